package dev.nvmelm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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

    /**
     * Starts a server and waits until it listens on its Unix socket. The file appears at bind(2),
     * before listen(2), so its existence is not enough (a connect in between is refused); and a
     * probe connection would end a qemu-nbd without --persistent, so the kernel's socket table
     * says when it listens.
     */
    public static Process start(List<String> cmd, Path socket) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            awaitListening(p, cmd.getFirst() + " listens on " + socket, () -> unixListening(socket));
        } catch (Exception | Error e) {
            stop(p);
            throw e;
        }
        return p;
    }

    /** Waits until {@code p} (alive) listens on TCP {@code port} of this network namespace. */
    public static void awaitPort(Process p, int port) throws Exception {
        awaitListening(p, "something listens on port " + port, () -> tcpListening(port));
    }

    private static void awaitListening(Process p, String what, Await.Condition listening) throws Exception {
        Await.until(what, Duration.ofSeconds(10), () -> {
            if (!p.isAlive()) throw new AssertionError(what + ": the process exited with " + p.exitValue());
            return listening.holds();
        });
    }

    /** /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is __SO_ACCEPTCON (listening). */
    static boolean unixListening(Path socket) throws Exception {
        return unixSockets(socket, f -> f[3].equals("00010000"));
    }

    /** True when a client is connected to the server listening on {@code socket} (its accepted end: St 03, SS_CONNECTED). */
    public static boolean unixConnected(Path socket) throws Exception {
        return unixSockets(socket, f -> f[5].equals("03"));
    }

    private static boolean unixSockets(Path socket, java.util.function.Predicate<String[]> match) throws Exception {
        String path = socket.toAbsolutePath().toString();
        for (String line : Files.readAllLines(Path.of("/proc/net/unix"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 8 && f[7].equals(path) && match.test(f)) return true;
        }
        return false;
    }

    /** /proc/net/tcp and tcp6: sl local_address(HEX_ADDR:HEX_PORT) rem_address st ...; st 0A is LISTEN. */
    static boolean tcpListening(int port) throws Exception {
        String hexPort = String.format(":%04X", port);
        for (String table : new String[]{"/proc/net/tcp", "/proc/net/tcp6"}) {
            Path t = Path.of(table);
            if (!Files.exists(t)) continue;
            for (String line : Files.readAllLines(t)) {
                String[] f = line.trim().split("\\s+");
                if (f.length >= 4 && f[1].endsWith(hexPort) && f[3].equals("0A")) return true;
            }
        }
        return false;
    }

    /** Stops a process and its descendants (forked children would outlive it). */
    public static void stop(Process p) throws Exception {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroy();
        if (!p.waitFor(5, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
    }
}
