package dev.nvmelm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Real peer tools in tests: run one to completion, or start a server and stop it and everything it forked. */
public final class Procs {
    private Procs() {}

    /** Runs a command, asserts exit 0 within a minute, returns its output. */
    public static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(String.join(" ", cmd) + "\n" + out).isZero();
        return out;
    }

    /** Runs a command with its output discarded and returns its exit code (-1 if it did not end within 20 s). */
    public static int exitCode(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor(20, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    /** Starts a server and waits until it has created its Unix socket. */
    public static Process start(List<String> cmd, Path socket) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        for (int i = 0; i < 500 && !Files.exists(socket); i++) Thread.sleep(10);
        assertThat(socket).as(cmd.getFirst() + " started").exists();
        return p;
    }

    /** Stops a process and its descendants (forked children would outlive it). */
    public static void stop(Process p) throws Exception {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroy();
        if (!p.waitFor(5, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
    }
}
