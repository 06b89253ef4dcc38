package io.coro4j.examples.modular.tck;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import io.coro4j.tck.DiscoveryTck;
import java.io.PrintWriter;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs, with the JUnit Platform launcher, the kit's discovery suite for the scheduler named by the
 * first argument ({@code loom} or {@code threadpool}) and, on that scheduler, the kit's tests that
 * time a cancellation against a grant by reading a primitive's lock (a channel's, a semaphore's, an
 * event's, a {@code Lock}'s inner lock): io.coro4j opens io.coro4j.channel to io.coro4j.tck for
 * them. Prints the counts, and each failure with its stack trace; exits 1 if a test failed.
 */
public final class TckMain {

    private TckMain() {}

    public static void main(String[] args) {
        String kind = args[0];
        System.setProperty("tck.scheduler", kind);
        Class<?> discovery = kind.equals("loom") ? LoomDiscoveryTest.class : ThreadPoolDiscoveryTest.class;
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(discovery),
                        selectMethod(ChannelGrantTest.class,
                                "aReceiveHandedAnItemWhileItsCancelledTaskWithdrawsReturnsTheItem"),
                        selectMethod(ChannelGrantTest.class,
                                "aSendWhoseItemIsTakenWhileItsCancelledTaskWithdrawsReturnsNormally"),
                        selectMethod(SyncGrantTest.class,
                                "semaphoreAPermitHandedToAnAcquireWhileItsCancelledTaskWithdrawsIsKept"),
                        selectMethod(SelectGrantTest.class,
                                "aPermitOrAnEventHandedToASelectWhileItsCancelledTaskWithdrawsTakesEffect"),
                        selectMethod(SelectGrantTest.class, "aSelectHandedTheLockWhileItsCancelledTaskWithdrawsOwnsIt"))
                .build();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        LauncherFactory.create().execute(request, listener);
        TestExecutionSummary s = listener.getSummary();
        System.out.println("tests " + TckMain.class.getModule().getName() + ", kit "
                + DiscoveryTck.class.getModule().getName() + ", on " + kind);
        System.out.println("found " + s.getTestsFoundCount() + ", succeeded " + s.getTestsSucceededCount()
                + ", failed " + s.getTestsFailedCount() + ", skipped " + s.getTestsSkippedCount()
                + ", aborted " + s.getTestsAbortedCount());
        if (s.getTotalFailureCount() > 0) {
            s.printFailuresTo(new PrintWriter(System.out, true), 20);
            System.exit(1);
        }
    }
}
