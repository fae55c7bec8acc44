package dev.nvmelm.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Ctrl-C or SIGTERM in the middle of a migration, sent to the CLI in its own JVM: the run aborts,
 * the source is resumed and intact, and the process exits promptly with 128 + signo and one line
 * saying so. (It used to take 15 s: System.exit from main waited behind a shutdown hook that
 * waited for main.)
 */
class SignalExitTest {
    @TempDir
    Path dir;

    /** A generous bound: the abort takes well under a second; the old exit took 15 s. */
    static final long EXIT_BOUND_MS = 5_000;

    @ParameterizedTest
    @ValueSource(strings = {"TERM", "INT"})
    void migrateStopsPromptlyAndTheSourceIsIntact(String signal) throws Exception {
        assumeDeliverable(signal);
        Path src = dir.resolve("src.img");
        byte[] data = new byte[32 << 20];
        new Random(7).nextBytes(data);
        Files.write(src, data);
        Path dst = dir.resolve("dst.img");
        Stopped s = runAndStop(signal, "migrate", "--source-image", src.toString(), "--dest-image", dst.toString(), "--max-rate", "2M");
        assertThat(s.exit).as(s.err).isEqualTo(signal.equals("TERM") ? 143 : 130);
        assertThat(s.exitMs).as("exit latency after SIG" + signal).isLessThan(EXIT_BOUND_MS);
        assertThat(s.err).contains("migration aborted: stopped by SIG" + signal).contains("the source controller is resumed");
        assertThat(Files.readAllBytes(src)).isEqualTo(data);
        assertThat(dir.resolve("dst.img.incomplete")).exists();
    }

    @ParameterizedTest
    @ValueSource(strings = {"TERM", "INT"})
    void demoStopsPromptlyAndCleansUp(String signal) throws Exception {
        assumeDeliverable(signal);
        Stopped s = runAndStop(signal, "demo", "--size", "64M", "--iops", "200", "--max-rate", "2M");
        assertThat(s.exit).as(s.err).isEqualTo(signal.equals("TERM") ? 143 : 130);
        assertThat(s.exitMs).as("exit latency after SIG" + signal).isLessThan(EXIT_BOUND_MS);
        assertThat(s.err).contains("stopped by SIG" + signal).contains("the source controller is resumed");
        try (var left = Files.list(dir.resolve("tmp"))) {
            assertThat(left.toList()).as("the demo's temporary directory").isEmpty();
        }
    }

    record Stopped(int exit, long exitMs, String err) {
    }

    /** Starts the CLI, waits until its progress shows the bulk copy running, signals it and times the exit. */
    Stopped runAndStop(String signal, String... args) throws Exception {
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            CountDownLatch copying = new CountDownLatch(1);
            Thread drain = Thread.ofVirtual().start(() -> {
                try (InputStream in = p.getErrorStream()) {
                    byte[] b = new byte[4096];
                    for (int n; (n = in.read(b)) > 0; ) {
                        synchronized (err) {
                            err.write(b, 0, n);
                            if (err.toString(StandardCharsets.UTF_8).contains(" bulk pass")) copying.countDown();
                        }
                    }
                } catch (java.io.IOException ignored) {
                    // the process is gone
                }
            });
            assertThat(copying.await(60, TimeUnit.SECONDS)).as("the bulk copy started").isTrue();
            long t0 = System.nanoTime();
            assertThat(new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).start().waitFor()).isZero();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exited").isTrue();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            drain.join();
            String text;
            synchronized (err) {
                text = err.toString(StandardCharsets.UTF_8);
            }
            return new Stopped(p.exitValue(), ms, text);
        } finally {
            p.destroyForcibly();
        }
    }

    /** A signal this JVM ignores (SIGINT when started in the background) is ignored by its children too. */
    static void assumeDeliverable(String signal) throws Exception {
        if (!signal.equals("INT")) return;
        String ign = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("SigIgn:")).findFirst().orElseThrow();
        long mask = Long.parseLong(ign.substring(7).strip(), 16);
        Assumptions.assumeTrue((mask & (1L << (2 - 1))) == 0, "SIGINT is ignored in this process (started in the background)");
    }
}
