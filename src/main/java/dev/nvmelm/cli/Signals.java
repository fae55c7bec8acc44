package dev.nvmelm.cli;

/**
 * SIGINT and SIGTERM as a request to stop cleanly (exit 0), which a shutdown hook cannot give:
 * the JVM would exit 130/143. Uses the JDK's supported-but-unofficial sun.misc.Signal.
 */
final class Signals {
    private Signals() {}

    @SuppressWarnings("removal")
    static void onTermination(Runnable action) {
        for (String name : new String[]{"INT", "TERM"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(name), s -> action.run());
        }
    }
}
