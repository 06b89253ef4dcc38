#!/usr/bin/env bash
# The benchmark report: builds bench/target/benchmarks.jar, runs a short profile of every benchmark
# (io.coro4j.bench.report.BenchReport; under ten minutes on 2 cores, the build included) and writes
# bench/REPORT.md and the table between the report markers of README.md.
#
#   bench/report.sh                                   # everything
#   bench/report.sh --only SpawnJoin --no-readme      # options of BenchReport (bench/README.md)
#
# Needs a JDK 21 or newer; Maven runs on any Java 8+ and picks one by toolchain. This script runs the
# benchmarks on the first JDK 21+ of: $BENCH_JAVA (a java binary), $JAVA_HOME, `java` on the PATH,
# the JDKs of ~/.m2/toolchains.xml, the newest under /usr/lib/jvm (or macOS's JavaVirtualMachines).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

java_feature() { # the feature version of the java binary $1 (8 for 1.8), or nothing
  "$1" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \(1\.\)\{0,1\}\([0-9]*\).*/\2/p' | head -n 1
}

find_java() {
  local candidates=()
  [[ -n "${BENCH_JAVA:-}" ]] && candidates+=("$BENCH_JAVA")
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  if [[ -f "$HOME/.m2/toolchains.xml" ]]; then
    while read -r home; do candidates+=("$home/bin/java"); done < <(
      sed -n 's:.*<jdkHome>\(.*\)</jdkHome>.*:\1:p' "$HOME/.m2/toolchains.xml")
  fi
  while read -r j; do candidates+=("$j"); done < <(
    ls -d /usr/lib/jvm/*/bin/java /Library/Java/JavaVirtualMachines/*/Contents/Home/bin/java 2>/dev/null | sort -rV)
  local j v
  for j in "${candidates[@]}"; do
    [[ -x "$j" ]] || continue
    v=$(java_feature "$j")
    if [[ -n "$v" && "$v" -ge 21 ]]; then
      echo "$j"
      return 0
    fi
  done
  echo "bench/report.sh: no JDK 21 or newer found; set BENCH_JAVA to its bin/java or JAVA_HOME to it" >&2
  return 1
}

java=$(find_java)
echo "bench/report.sh: building the benchmarks; they will run on $java" >&2
./mvnw -q install -Dmaven.test.skip=true -pl bench -am

"$java" -cp bench/target/benchmarks.jar io.coro4j.bench.report.BenchReport \
  --command "bench/report.sh${*:+ $*}" --since "$start" --load-at-start "$load" "$@"
