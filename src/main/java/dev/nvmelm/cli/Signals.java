package dev.nvmelm.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * SIGINT and SIGTERM as a request to stop cleanly, which a shutdown hook cannot give: the JVM
 * would exit 130/143 without the command's last words, and a {@code System.exit} from the main
 * thread would wait behind the hook. Uses the JDK's supported-but-unofficial sun.misc.Signal.
 */
final class Signals {
    private Signals() {}

    /** A signal that asked the command to stop: its name and the shell's exit status for it (128 + signo). */
    record Received(String name, int exitStatus) {
    }

    /** Handlers installed for a stretch of a command; closing puts the previous ones back. */
    static final class Scope implements AutoCloseable {
        private final List<sun.misc.Signal> signals = new ArrayList<>();
        private final List<sun.misc.SignalHandler> previous = new ArrayList<>();
        private volatile Received received;

        /** The first signal received while installed, or null. */
        Received received() {
            return received;
        }

        @Override
        @SuppressWarnings("removal")
        public void close() {
            for (int i = 0; i < signals.size(); i++) sun.misc.Signal.handle(signals.get(i), previous.get(i));
        }
    }

    @SuppressWarnings("removal")
    static void onTermination(Runnable action) {
        for (String name : new String[]{"INT", "TERM"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(name), s -> action.run());
        }
    }

    /**
     * Runs {@code action} on SIGINT or SIGTERM until the scope is closed. A signal the process
     * ignores (SIGINT of a background job) stays ignored; one the JVM keeps for itself (-Xrs) is
     * left to the JVM.
     */
    @SuppressWarnings("removal")
    static Scope during(Consumer<Received> action) {
        Scope scope = new Scope();
        for (String name : new String[]{"INT", "TERM"}) {
            sun.misc.Signal sig = new sun.misc.Signal(name);
            Received r = new Received("SIG" + name, 128 + sig.getNumber());
            try {
                sun.misc.SignalHandler old = sun.misc.Signal.handle(sig, s -> {
                    if (scope.received == null) scope.received = r;
                    action.accept(r);
                });
                scope.signals.add(sig);
                scope.previous.add(old);
                if (old == sun.misc.SignalHandler.SIG_IGN) {   // keep what the parent asked for
                    sun.misc.Signal.handle(sig, old);
                    scope.signals.removeLast();
                    scope.previous.removeLast();
                }
            } catch (IllegalArgumentException e) {
                // the JVM or OS reserves it: its default (a shutdown) applies
            }
        }
        return scope;
    }
}
