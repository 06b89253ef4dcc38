package io.coro4j.bench.report;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * That a benchmark is judged against a baseline: {@code subject} measurements whose parameters
 * include {@code when} are divided by the {@code baseline} measurement of the same run whose
 * parameters are the subject's, overridden by {@code baselineParams}, as far as the baseline has
 * them. So {@code generator [scheduler=threadpool, metrics=prometheus]} with baseline
 * {@code generator} and {@code baselineParams} {@code metrics=none} finds
 * {@code generator [scheduler=threadpool, metrics=none]}, and {@code SpawnJoin.coro4j [scheduler=loom]}
 * with baseline {@code SpawnJoin.virtualThreads} (no parameters) finds that one.
 *
 * @param subject the benchmark judged, as {@link Measurement#benchmark()} names it
 * @param when parameters the subject must have for this pairing to apply; empty: any
 * @param baseline the benchmark it is divided by
 * @param baselineParams parameters of the baseline that differ from the subject's
 * @param budget the largest acceptable ratio (scores are times or bytes: lower is better), or
 *     {@code null} where none is set
 */
public record Pairing(String subject, Map<String, String> when, String baseline, Map<String, String> baselineParams,
        Double budget) {

    public Pairing {
        Objects.requireNonNull(subject, "subject");
        when = Map.copyOf(when);
        Objects.requireNonNull(baseline, "baseline");
        baselineParams = Map.copyOf(baselineParams);
        if (budget != null && !(budget > 0)) {
            throw new IllegalArgumentException("budget is " + budget + ": a ratio budget must be positive");
        }
    }

    /** Whether this pairing judges {@code m}. */
    public boolean appliesTo(Measurement m) {
        if (!m.benchmark().equals(subject)) {
            return false;
        }
        for (Map.Entry<String, String> e : when.entrySet()) {
            if (!e.getValue().equals(m.params().get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    /** The baseline of {@code subject} among {@code measured}, if it was measured in this run. */
    public Optional<Measurement> baselineOf(Measurement subject, List<Measurement> measured) {
        for (Measurement b : measured) {
            if (b.benchmark().equals(baseline) && b != subject && paramsFit(subject, b)) {
                return Optional.of(b);
            }
        }
        return Optional.empty();
    }

    private boolean paramsFit(Measurement subject, Measurement b) {
        for (Map.Entry<String, String> e : b.params().entrySet()) {
            String wanted = baselineParams.getOrDefault(e.getKey(), subject.params().get(e.getKey()));
            if (!e.getValue().equals(wanted)) {
                return false;
            }
        }
        return true;
    }
}
