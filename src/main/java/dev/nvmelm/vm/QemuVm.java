package dev.nvmelm.vm;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * One QEMU process for a test, a demo or a benchmark: direct-kernel boot of a guest
 * ({@link GuestImage}) with its serial console on the process's stdin/stdout, read line by line so
 * callers wait for the guest's marker lines; QMP on a Unix socket of its own in the VM's
 * directory. TCG unless the host has kvm_intel or kvm_amd ({@link #accelerator}); QEMU is killed
 * when its hard timeout passes, and {@link #kill} ends only this process (by its PID).
 */
public final class QemuVm implements AutoCloseable {
    public static final String QEMU = "qemu-system-x86_64";
    private static final AtomicInteger SEQ = new AtomicInteger();

    /**
     * @param name     a short label (the QMP socket and log file are named after it, made unique)
     * @param append   extra kernel command-line words (KEY=value reach the guest's /init)
     * @param qemuArgs device options: the disk (see {@link #virtioBlkOnNbd}), -incoming, ...
     */
    public record Config(Path dir, String name, Path kernel, Path initrd, String append, int memMiB,
                         List<String> qemuArgs, Duration timeout) {
        public Config {
            if (memMiB < 64) throw new IllegalArgumentException("guest memory " + memMiB + " MiB is too small");
            qemuArgs = List.copyOf(qemuArgs);
        }
    }

    private final Process process;
    private final Path qmpSocket, log;
    private final OutputStream console;
    private final List<String> lines = new ArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition lineArrived = lock.newCondition();
    private boolean consoleClosed;
    private int cursor;
    private Qmp qmp;

    private QemuVm(Config c, List<String> prefix) throws IOException {
        String id = c.name() + "-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet();
        Files.createDirectories(c.dir());
        qmpSocket = c.dir().resolve(id + ".qmp");
        log = c.dir().resolve(id + ".log");
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(QEMU);
        cmd.addAll(accelerator());
        cmd.addAll(List.of("-m", Integer.toString(c.memMiB()), "-smp", "1", "-nodefaults", "-no-user-config",
                "-display", "none", "-no-reboot",
                "-chardev", "stdio,id=con0,signal=off", "-serial", "chardev:con0",
                "-qmp", "unix:" + qmpSocket + ",server=on,wait=off",
                "-kernel", c.kernel().toString(), "-initrd", c.initrd().toString(),
                "-append", "console=ttyS0 panic=-1 quiet loglevel=3" + (c.append().isBlank() ? "" : " " + c.append())));
        cmd.addAll(c.qemuArgs());
        process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        console = process.getOutputStream();
        // the hard timeout: QEMU never outlives it, whatever the caller does
        process.onExit().completeOnTimeout(null, c.timeout().toMillis(), TimeUnit.MILLISECONDS)
                .thenRun(() -> { if (process.isAlive()) process.destroyForcibly(); });
        Thread.ofVirtual().name("qemu-console " + id).start(this::readConsole);
    }

    /** Starts QEMU; the guest boots at once (or waits for the migration, with -incoming). */
    public static QemuVm start(Config c) throws IOException {
        return new QemuVm(c, List.of());
    }

    /**
     * Starts QEMU on one of {@link TwoHosts}' hosts (inside its network namespace). {@code ip netns
     * exec} execs QEMU, so the process and PID are still QEMU's own.
     */
    public static QemuVm startOn(TwoHosts.Host host, Config c) throws IOException {
        return new QemuVm(c, host.command(List.of()));
    }

    /** Why QEMU cannot run here, or null when it can (tests skip with this reason). */
    public static String unavailable() {
        String os = System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) return "the guest is x86_64 Linux; this is " + os + "/" + arch;
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, QEMU))) return null;
        }
        return QEMU + " not found (install qemu-system-x86: scripts/install-deps.sh)";
    }

    /**
     * KVM only where the host has kvm_intel or kvm_amd: a /dev/kvm served by another module (PVM)
     * hangs a stock kernel instead of failing. TCG with QEMU's default CPU model otherwise, the
     * same on both ends of a migration.
     */
    public static List<String> accelerator() {
        boolean kvm = (Files.isDirectory(Path.of("/sys/module/kvm_intel")) || Files.isDirectory(Path.of("/sys/module/kvm_amd")))
                && Files.isReadable(Path.of("/dev/kvm")) && Files.isWritable(Path.of("/dev/kvm"));
        return kvm ? List.of("-accel", "kvm", "-cpu", "host") : List.of("-accel", "tcg");
    }

    /**
     * A virtio-blk disk on an NBD export of a Unix socket. With {@code sizeBytes} > 0 the
     * geometry is given (cylinders of 16 heads x 63 sectors), which keeps QEMU from reading
     * sector 0 to guess it when the device is realized.
     */
    public static List<String> virtioBlkOnNbd(Path socket, String export, long sizeBytes) {
        String dev = "virtio-blk-pci,drive=disk0,id=vd0";
        if (sizeBytes > 0) dev += ",cyls=" + Math.min(16383, sizeBytes / 512 / (16 * 63)) + ",heads=16,secs=63";
        return List.of("-blockdev", "driver=nbd,node-name=disk0,server.type=unix,server.path=" + socket + ",export=" + export,
                "-device", dev);
    }

    private void readConsole() {
        try (var r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
             var w = Files.newBufferedWriter(log)) {
            String line;
            while ((line = r.readLine()) != null) {
                String l = line.replace("\r", "");
                w.write(l);
                w.newLine();
                w.flush();
                lock.lock();
                try {
                    lines.add(l);
                    lineArrived.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        } catch (IOException ignored) {
            // QEMU went away; waiters see the end below
        } finally {
            lock.lock();
            try {
                consoleClosed = true;
                lineArrived.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * The next console line (after the last one this method returned) that {@code which} accepts;
     * throws when QEMU exits or {@code timeout} passes first, with the console's tail.
     */
    public String awaitLine(Predicate<String> which, Duration timeout) throws IOException, InterruptedException {
        lock.lock();
        try {
            long left = timeout.toNanos();
            while (true) {
                while (cursor < lines.size()) {
                    String l = lines.get(cursor++);
                    if (which.test(l)) return l;
                }
                if (consoleClosed) throw new IOException("QEMU exited (" + exitDescription() + ") before the awaited console line; console:\n" + tail());
                if (left <= 0) throw new IOException("no awaited console line within " + timeout.toSeconds() + " s; console:\n" + tail());
                left = lineArrived.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Convenience: the next line starting with {@code prefix}. */
    public String awaitMarker(String prefix, Duration timeout) throws IOException, InterruptedException {
        return awaitLine(l -> l.startsWith(prefix), timeout);
    }

    /** Every console line so far. */
    public List<String> lines() {
        lock.lock();
        try {
            return List.copyOf(lines);
        } finally {
            lock.unlock();
        }
    }

    private String tail() {
        int from = Math.max(0, lines.size() - 20);
        return String.join("\n", lines.subList(from, lines.size()));
    }

    private String exitDescription() {
        return process.isAlive() ? "console closed" : "exit status " + process.exitValue();
    }

    /** Types a line on the guest's serial console. */
    public void send(String line) throws IOException {
        console.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        console.flush();
    }

    /** This QEMU's QMP connection (made on first use; waits for QEMU to create the socket). */
    public synchronized Qmp qmp() throws IOException, InterruptedException {
        if (qmp == null) qmp = Qmp.connect(qmpSocket, Duration.ofSeconds(30), process::isAlive);
        return qmp;
    }

    public Path qmpSocket() {
        return qmpSocket;
    }

    public Path log() {
        return log;
    }

    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process.isAlive();
    }

    /** Kills this QEMU (SIGKILL to its PID, nothing else) and waits for it to be gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** Waits for QEMU to exit; its status, or -1 if still running after {@code timeout}. */
    public int awaitExit(Duration timeout) throws InterruptedException {
        return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    }

    @Override
    public void close() throws InterruptedException {
        try {
            if (qmp != null) qmp.close();
        } catch (IOException ignored) {
            // QEMU is killed next anyway
        }
        kill();
        try {
            Files.deleteIfExists(qmpSocket);
        } catch (IOException ignored) {
            // QEMU removes it itself on a clean exit
        }
    }
}
