package dev.nvmelm.bench;

import dev.nvmelm.vm.QemuVm;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * The serial console of one benchmarked guest with the host time each line arrived: the guest's
 * own clock stops and jumps across a live migration, so the windows a benchmark cuts (before,
 * during and after the switchover) are cut on the host's clock. One reader takes every line of
 * the {@link QemuVm}; callers wait here, never on the VM directly.
 */
final class GuestConsole {
    /** A console line and when (System.nanoTime) it arrived. */
    record Line(long nanos, String text) {}

    /** A WRITER-PROGRESS line of scripts/guest/vm-writer.c, parsed. */
    record Progress(long nanos, long writes, long errors, double iops, double maxLatencyMs) {
        static Progress parse(Line l) {
            if (!l.text().startsWith("WRITER-PROGRESS ")) return null;
            return new Progress(l.nanos(), field(l.text(), "writes"), field(l.text(), "errors"),
                    Double.parseDouble(word(l.text(), "iops")), Double.parseDouble(word(l.text(), "max_lat_ms")));
        }
    }

    private final QemuVm vm;
    private final String name;
    private final List<Line> lines = new ArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private boolean ended;
    private int cursor;

    GuestConsole(QemuVm vm, String name) {
        this.vm = vm;
        this.name = name;
        Thread.ofVirtual().name("guest-console " + vm.pid()).start(this::read);
    }

    private void read() {
        try {
            while (true) {
                String l = vm.awaitLine(x -> true, Duration.ofDays(1));
                long t = System.nanoTime();
                lock.lock();
                try {
                    lines.add(new Line(t, l));
                    arrived.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        } catch (IOException | InterruptedException e) {
            // QEMU exited: waiters see the end
        } finally {
            lock.lock();
            try {
                ended = true;
                arrived.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** The next line (after the last one this returned) that {@code which} accepts; throws at QEMU's exit or the timeout. */
    Line await(Predicate<String> which, Duration timeout) throws IOException, InterruptedException {
        lock.lock();
        try {
            long left = timeout.toNanos();
            while (true) {
                while (cursor < lines.size()) {
                    Line l = lines.get(cursor++);
                    if (which.test(l.text())) return l;
                }
                if (ended) throw new IOException("the " + name + " QEMU exited before the awaited console line" + (panicked() ? " (the guest kernel panicked)" : "") + "; console:\n" + tail());
                if (left <= 0) throw new IOException("no awaited console line of the " + name + " QEMU within " + timeout.toSeconds() + " s; console:\n" + tail());
                left = arrived.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    Line awaitMarker(String prefix, Duration timeout) throws IOException, InterruptedException {
        return await(l -> l.startsWith(prefix), timeout);
    }

    /** The next progress report. */
    Progress awaitProgress(Duration timeout) throws IOException, InterruptedException {
        return Progress.parse(awaitMarker("WRITER-PROGRESS ", timeout));
    }

    List<Line> lines() {
        lock.lock();
        try {
            return List.copyOf(lines);
        } finally {
            lock.unlock();
        }
    }

    List<Progress> progress() {
        return lines().stream().map(Progress::parse).filter(p -> p != null).toList();
    }

    /** True when the guest's kernel printed a panic. */
    boolean panicked() {
        return lines().stream().anyMatch(l -> l.text().contains("Kernel panic"));
    }

    private String tail() {
        List<Line> l = lines.subList(Math.max(0, lines.size() - 20), lines.size());
        return String.join("\n", l.stream().map(Line::text).toList());
    }

    static long field(String line, String key) {
        return Long.parseLong(word(line, key));
    }

    static String word(String line, String key) {
        for (String w : line.split(" ")) if (w.startsWith(key + "=")) return w.substring(key.length() + 1);
        throw new IllegalArgumentException("no " + key + "= in console line: " + line);
    }
}
