package dev.nvmelm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 19 item 1, as a user met it: after {@code migrate} moved MC 1 to MC 2, opening MC 1
 * hung, then every other client hung, and SIGTERM no longer stopped {@code device serve}.
 * The server runs in its own JVM so that SIGTERM and its exit are real.
 */
class SuspendedControllerCliTest {
    /** Generous bounds: they decide "answers at all" and "exits at all", not speed. */
    private static final long ANSWER_BOUND_S = 30, EXIT_BOUND_S = 10;

    @TempDir
    Path dir;

    @Test
    void openingAMigratedAwayControllerIsRefusedAndWedgesNothing() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "device", "serve", "--dir", dir.toString(), "--ns-size", "8M", "--migratable", "2", "--host-memory", "64M")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            String mmc = new BufferedReader(new InputStreamReader(p.getInputStream())).readLine();
            assertThat(mmc).startsWith("sim:");
            SimDeviceCliTest.ok("io", "write", mmc + "#1", "-n", "1", "-s", "5", "-c", "0", "--pattern=0x5a");   // the guest on MC 1
            CliRunner m = SimDeviceCliTest.ok("migrate", "--source", mmc + "#1", "--dest", mmc + "#2", "-o", "json");
            assertThat(m.out()).contains("\"verified\": true");

            CliRunner old = within(() -> CliRunner.run("io", "read", mmc + "#1", "-n", "1", "-s", "5", "-c", "0"));
            assertThat(old.exit()).isEqualTo(1);
            assertThat(old.err()).contains("controller 1 is suspended: migrated to 2").doesNotContain("Exception");
            assertThat(old.err().strip().lines()).hasSize(1);
            // the others are still served
            assertThat(within(() -> CliRunner.run("id-ctrl", mmc)).exit()).isZero();
            CliRunner moved = within(() -> CliRunner.run("io", "read", mmc + "#2", "-n", "1", "-s", "5", "-c", "0", "-o", "json"));
            assertThat(moved.exit()).as(moved.err()).isZero();
            // the server reset MC 1 when MC 2 resumed: it may be resumed now, and migrated back into
            SimDeviceCliTest.ok("lm", "migration-send", mmc, "--sel=1", "--cntlid=1");
            assertThat(SimDeviceCliTest.ok("migrate", "--source", mmc + "#2", "--dest", mmc + "#1", "-o", "json").out()).contains("\"verified\": true");
            CliRunner back = within(() -> CliRunner.run("io", "read", mmc + "#1", "-n", "1", "-s", "5", "-c", "0", "-o", "json"));
            assertThat(back.exit()).as(back.err()).isZero();
            assertThat(within(() -> CliRunner.run("io", "read", mmc + "#2", "-n", "1", "-s", "5", "-c", "0")).err())
                    .contains("controller 2 is suspended: migrated to 1");

            long t0 = System.nanoTime();
            p.destroy();   // SIGTERM
            assertThat(p.waitFor(EXIT_BOUND_S, TimeUnit.SECONDS)).as("device serve exits on SIGTERM").isTrue();
            long exitMs = (System.nanoTime() - t0) / 1_000_000;
            assertThat(p.exitValue()).isZero();
            System.out.println("device serve exited " + exitMs + " ms after SIGTERM");
        } finally {
            p.destroyForcibly();
            p.waitFor(EXIT_BOUND_S, TimeUnit.SECONDS);
        }
    }

    private static CliRunner within(java.util.function.Supplier<CliRunner> command) throws Exception {
        CompletableFuture<CliRunner> f = CompletableFuture.supplyAsync(command, r -> Thread.ofVirtual().start(r));
        try {
            return f.get(ANSWER_BOUND_S, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("no answer in " + ANSWER_BOUND_S + " s: the device server is wedged");
        }
    }
}
