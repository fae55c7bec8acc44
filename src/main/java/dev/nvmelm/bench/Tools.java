package dev.nvmelm.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Peer tools: find them, record their versions, run them with a timeout. */
public final class Tools {
    private Tools() {}

    /** A peer the harness compares against, with the Debian package that provides it. */
    public record Peer(String command, String debianPackage, List<String> versionArgs) {}

    public static final Peer CP = new Peer("cp", "coreutils", List.of("--version"));
    public static final Peer DD = new Peer("dd", "coreutils", List.of("--version"));
    public static final Peer NBDCOPY = new Peer("nbdcopy", "libnbd-bin", List.of("--version"));
    public static final Peer QEMU_IMG = new Peer("qemu-img", "qemu-utils", List.of("--version"));
    public static final Peer QEMU_NBD = new Peer("qemu-nbd", "qemu-utils", List.of("--version"));
    public static final Peer QSD = new Peer("qemu-storage-daemon", "qemu-system-common", List.of("--version"));
    public static final Peer NBDKIT = new Peer("nbdkit", "nbdkit", List.of("--version"));
    public static final Peer FIO = new Peer("fio", "fio", List.of("--version"));
    public static final Peer NBDINFO = new Peer("nbdinfo", "libnbd-bin", List.of("--version"));
    public static final Peer MVN = new Peer("mvn", "maven", List.of("--version"));

    public static Path which(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(dir, command);
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    /** Fails with the install hint when a peer is missing: the harness never skips one silently. */
    public static void require(Peer peer) {
        if (which(peer.command()) == null) {
            throw new IllegalStateException(peer.command() + " is not installed (Debian package " + peer.debianPackage()
                    + "); run ./scripts/install-deps.sh");
        }
    }

    /** The first line the tool prints for its version, or "unknown". */
    public static String version(Peer peer) {
        try {
            Result r = run(concat(peer.command(), peer.versionArgs()), Duration.ofSeconds(10));
            String first = r.output().strip().lines().findFirst().orElse("unknown");
            return first.isBlank() ? "unknown" : first;
        } catch (IOException e) {
            return "not installed";
        }
    }

    public record Result(int exit, long nanos, String output) {
        public double seconds() {
            return nanos / 1e9;
        }
    }

    /** Runs a command, capturing stdout+stderr; the time covers process start to exit. */
    public static Result run(List<String> cmd, Duration timeout) throws IOException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out;
        try (var in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IOException(cmd.getFirst() + " timed out after " + timeout.toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + cmd.getFirst());
        }
        return new Result(p.exitValue(), System.nanoTime() - t0, new String(out));
    }

    /** Runs a command that must succeed; a non-zero exit is an IOException with its output. */
    public static Result runOk(List<String> cmd, Duration timeout) throws IOException {
        Result r = run(cmd, timeout);
        if (r.exit() != 0) throw new IOException(String.join(" ", cmd) + " exited " + r.exit() + ": " + r.output().strip());
        return r;
    }

    static List<String> concat(String first, List<String> rest) {
        var l = new java.util.ArrayList<String>();
        l.add(first);
        l.addAll(rest);
        return l;
    }
}
