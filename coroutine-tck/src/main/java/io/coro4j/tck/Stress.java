package io.coro4j.tck;

/** Scales stress-test sizes by the system property {@value #PROPERTY} (a positive number, default 1). */
public final class Stress {

    /** The multiplier property: {@code -Dcoro4j.stress.multiplier=10} runs stress tests ten times longer. */
    public static final String PROPERTY = "coro4j.stress.multiplier";

    private Stress() {}

    /** {@code n} times the multiplier, at least 1. */
    public static int scaled(int n) {
        String s = System.getProperty(PROPERTY, "1");
        double m;
        try {
            m = Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(PROPERTY + "=" + s + " is not a number", e);
        }
        if (!(m > 0)) {
            throw new IllegalArgumentException(PROPERTY + "=" + s + " should be positive");
        }
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.round(n * m)));
    }
}
