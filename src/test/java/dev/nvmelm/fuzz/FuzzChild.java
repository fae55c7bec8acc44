package dev.nvmelm.fuzz;

import org.junit.platform.launcher.EngineFilter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;
import static org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder.request;

/**
 * One fuzz target in fuzzing mode, in a JVM of its own: Jazzer's libFuzzer can run once per
 * process. Started by {@link FuzzRunner} with JAZZER_FUZZ=1 and {@code jazzer.max_duration}; exits
 * 0 when the target ran clean, 1 when Jazzer reported a finding (saved under the target's
 * {@code ...Inputs/} directory in src/test/resources).
 */
public final class FuzzChild {
    private FuzzChild() {}

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: FuzzChild CLASS METHOD");
            System.exit(2);
        }
        // the jupiter engine alone: jqwik would start its own run (and its database) for nothing
        LauncherDiscoveryRequest req = request().selectors(selectMethod(args[0] + "#" + args[1] + "(byte[])"))
                .filters(EngineFilter.includeEngines("junit-jupiter")).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        launcher.execute(req, summary);
        var s = summary.getSummary();
        s.getFailures().forEach(f -> System.err.println("fuzz finding: " + f.getException()));
        System.err.println("fuzz child: " + s.getTestsSucceededCount() + " succeeded, " + s.getTestsFailedCount() + " failed");
        System.exit(s.getTestsFailedCount() == 0 && s.getTestsSucceededCount() > 0 ? 0 : 1);
    }
}
