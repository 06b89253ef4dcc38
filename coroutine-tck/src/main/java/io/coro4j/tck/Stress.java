package io.coro4j.tck;

/**
 * Scales stress-test sizes by the system property {@value #PROPERTY} (a positive number, default
 * 1), times {@value #RUN_FACTOR} (default 1), which a build sets for a test run that is slower by
 * nature, such as an interpreted-only one, so that the user's multiplier scales it too.
 */
public final class Stress {

    /** The multiplier property: {@code -Dcoro4j.stress.multiplier=10} runs stress tests ten times longer. */
    public static final String PROPERTY = "coro4j.stress.multiplier";

    /** The factor a test run applies on top of {@value #PROPERTY}: 0.05 for the interpreted-only run. */
    public static final String RUN_FACTOR = "coro4j.stress.runFactor";

    private Stress() {}

    /** {@code n} times the multiplier and the run factor, at least 1. */
    public static int scaled(int n) {
        double m = positive(PROPERTY) * positive(RUN_FACTOR);
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.round(n * m)));
    }

    /**
     * The crowd of one round of a test whose default is a crowd of {@code n} at once: {@code n}
     * scaled, but never larger than {@code n}. A larger multiplier runs more rounds
     * ({@link #rounds}) instead, since a crowd's cost (heap, collections) grows faster than its size.
     */
    public static int crowd(int n) {
        return Math.min(scaled(n), n);
    }

    /** How many rounds of {@link #crowd(int) crowd(n)} make {@code n} scaled, at least 1. */
    public static int rounds(int n) {
        int c = crowd(n);
        return (scaled(n) + c - 1) / c;
    }

    private static double positive(String property) {
        String s = System.getProperty(property, "1");
        double m;
        try {
            m = Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(property + "=" + s + " is not a number", e);
        }
        if (!(m > 0)) {
            throw new IllegalArgumentException(property + "=" + s + " should be positive");
        }
        return m;
    }
}
