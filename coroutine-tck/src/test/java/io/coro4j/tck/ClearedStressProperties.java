package io.coro4j.tck;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Clears the stress properties before each test and restores them after: the build may run the
 * tests with a multiplier of the user's, and the tests set the properties themselves.
 */
final class ClearedStressProperties implements BeforeEachCallback, AfterEachCallback {

    private static final String[] PROPERTIES = {Stress.PROPERTY, Stress.RUN_FACTOR};
    private final String[] saved = new String[PROPERTIES.length];

    @Override
    public void beforeEach(ExtensionContext context) {
        for (int i = 0; i < PROPERTIES.length; i++) {
            saved[i] = System.clearProperty(PROPERTIES[i]);
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        for (int i = 0; i < PROPERTIES.length; i++) {
            if (saved[i] == null) {
                System.clearProperty(PROPERTIES[i]);
            } else {
                System.setProperty(PROPERTIES[i], saved[i]);
            }
        }
    }
}
