package dev.nvmelm.vm;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * QEMU's half of a VM live migration whose storage nvme-lm moves, driven over QMP the way libvirt
 * drives it (docs/vm.md): {@link #prepare} turns on the {@code events} and
 * {@code pause-before-switchover} capabilities and raises {@code max-bandwidth}; {@link #start}
 * sends {@code migrate}; {@link #awaitPreSwitchover} waits for the {@code pre-switchover} status
 * (vCPUs stopped, block requests drained and flushed), where the caller stops and commits its
 * storage; {@link #continueSwitchover} sends {@code migrate-continue} and {@link #finish} waits for
 * {@code completed}. On a
 * failure the caller calls {@link #cancel} ({@code migrate_cancel}): the VM runs on on the source.
 * Which kind of storage destination is used does not matter here.
 */
public final class VmMigration implements AutoCloseable {
    /** One entry of the QMP timeline: when (ns since {@link #prepare}) and what. */
    public record Step(long atNanos, String what) {
        public double atMs() {
            return atNanos / 1e6;
        }
    }

    /** Sees every MIGRATION status as it arrives, before this class acts on it (tests fail the destination here). */
    public interface Observer {
        void status(String status) throws Exception;
    }

    private static final Set<String> ENDED = Set.of("completed", "failed", "cancelled");

    private final Path sourceQmp, destinationQmp;
    private final String uri;
    private final long maxBandwidthBytes, downtimeLimitMs;
    private final Duration timeout;
    private final Observer observer;
    private final List<Step> timeline = java.util.Collections.synchronizedList(new ArrayList<>());
    private Qmp src, dst;
    private long t0, startNanos;
    private boolean started, ended, continued;
    private String lastStatus = "none";
    private Long downtimeMs, totalTimeMs;

    /**
     * @param destinationQmp the destination QEMU's QMP socket, or null: with it, the destination
     *                       is checked alive right before the storage stop
     * @param downtimeLimitMs QEMU's downtime-limit: it stops the vCPUs once the RAM left fits it
     *                       (QEMU's default is 300 ms)
     * @param timeout        for the RAM pre-copy to reach pre-switchover, and for completion
     */
    public VmMigration(Path sourceQmp, String uri, Path destinationQmp, long maxBandwidthBytes, long downtimeLimitMs, Duration timeout,
                       Observer observer) {
        this.sourceQmp = sourceQmp;
        this.uri = uri;
        this.destinationQmp = destinationQmp;
        this.maxBandwidthBytes = maxBandwidthBytes;
        this.downtimeLimitMs = downtimeLimitMs;
        this.timeout = timeout;
        this.observer = observer;
    }

    private void step(String what) {
        timeline.add(new Step(System.nanoTime() - t0, what));
    }

    private Object src(String command, Map<String, Object> args) throws VmMigrationException {
        try {
            return src.command(command, args);
        } catch (IOException e) {
            step(command + " -> error: " + e.getMessage());
            throw new VmMigrationException(VmMigrationException.Kind.QMP, "source QEMU: " + e.getMessage(), e);
        }
    }

    /** Connects and sets the capabilities and parameters; refuses a VM that is not running or already migrating. */
    @SuppressWarnings("unchecked")
    public void prepare() throws VmMigrationException {
        t0 = System.nanoTime();
        try {
            src = new Qmp(sourceQmp);
        } catch (IOException e) {
            throw new VmMigrationException(VmMigrationException.Kind.QMP, "--vm-qmp " + sourceQmp + ": " + e.getMessage(), e);
        }
        Map<String, Object> status = (Map<String, Object>) src("query-status", Map.of());
        if (!Boolean.TRUE.equals(status.get("running"))) {
            throw new VmMigrationException(VmMigrationException.Kind.NOT_READY, "the source VM is not running (status " + status.get("status") + ")", null);
        }
        Map<String, Object> mig = (Map<String, Object>) src("query-migrate", Map.of());
        Object st = mig.get("status");
        if (st != null && !ENDED.contains(st) && !"none".equals(st)) {
            throw new VmMigrationException(VmMigrationException.Kind.NOT_READY, "the source VM is already migrating (status " + st + ")", null);
        }
        src("migrate-set-capabilities", Map.of("capabilities", List.of(
                Map.of("capability", "events", "state", true),
                Map.of("capability", "pause-before-switchover", "state", true))));
        // QEMU's default max-bandwidth is 32 MiB/s: RAM pre-copy would outlast the storage's passes
        src("migrate-set-parameters", Map.of("max-bandwidth", maxBandwidthBytes, "downtime-limit", downtimeLimitMs));
        step("capabilities events, pause-before-switchover; max-bandwidth " + maxBandwidthBytes + ", downtime-limit " + downtimeLimitMs + " ms");
    }

    /**
     * The destination QEMU, checked at the convergence rather than up front: across hosts its disk
     * is the agent's export of this migration, which exists only once the agent admitted the
     * migration, so that QEMU may start after this process did (docs/vm.md). Waits for its QMP
     * socket up to the timeout; a QEMU not started with -incoming is refused before {@code migrate}.
     */
    @SuppressWarnings("unchecked")
    private void checkDestination() throws VmMigrationException {
        try {
            dst = Qmp.connect(destinationQmp, timeout, () -> true);
            Map<String, Object> d = (Map<String, Object>) dst.command("query-status", Map.of());
            if (!"inmigrate".equals(d.get("status"))) {
                throw new VmMigrationException(VmMigrationException.Kind.NOT_READY,
                        "the destination QEMU is not waiting for a migration (status " + d.get("status") + "; start it with -incoming)", null);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmMigrationException(VmMigrationException.Kind.QMP, "interrupted", e);
        } catch (IOException e) {
            if (e instanceof VmMigrationException v) throw v;
            throw new VmMigrationException(VmMigrationException.Kind.QMP, "--vm-dest-qmp " + destinationQmp + ": " + e.getMessage(), e);
        }
        step("destination inmigrate");
    }

    /** Adds a step of the caller's (the storage side) to the timeline. */
    public void note(String what) {
        step(what);
    }

    /** Starts the RAM pre-copy. */
    public void start() throws VmMigrationException {
        if (destinationQmp != null && dst == null) checkDestination();
        startNanos = System.nanoTime();
        src("migrate", Map.of("uri", uri));
        started = true;
        step("migrate " + uri);
    }

    /**
     * Waits up to {@code waitNanos} for the pre-switchover status; true when reached (and the
     * destination, if watched, is alive). A failed or cancelled migration, a gone destination, or
     * the overall timeout throw.
     */
    public boolean awaitPreSwitchover(long waitNanos) throws VmMigrationException {
        String s = awaitStatus(waitNanos, Set.of("pre-switchover"));
        if (s == null) {
            if (System.nanoTime() - startNanos > timeout.toNanos()) {
                throw new VmMigrationException(VmMigrationException.Kind.TIMEOUT, "QEMU's RAM migration did not reach pre-switchover in "
                        + timeout.toSeconds() + " s (status " + lastStatus + ")", null);
            }
            return false;
        }
        if (dst != null) {
            try {
                dst.command("query-status", Map.of());   // a round trip: a dead QEMU's socket answers with EOF
            } catch (IOException e) {
                step("destination QEMU gone: " + e.getMessage());
                throw new VmMigrationException(VmMigrationException.Kind.DESTINATION_GONE, "the destination QEMU is gone before migrate-continue ("
                        + e.getMessage() + ")", e);
            }
        }
        return true;
    }

    /** The next status among {@code wanted} (or an end, which throws unless wanted), null after waitNanos. */
    private String awaitStatus(long waitNanos, Set<String> wanted) throws VmMigrationException {
        long deadline = System.nanoTime() + waitNanos;
        while (true) {
            Qmp.Event e;
            try {
                e = src.awaitEvent(ev -> "MIGRATION".equals(ev.name()), Math.max(0, deadline - System.nanoTime()));
            } catch (IOException ex) {
                throw new VmMigrationException(VmMigrationException.Kind.QMP, "source QEMU: " + ex.getMessage(), ex);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                throw new VmMigrationException(VmMigrationException.Kind.QMP, "interrupted", ex);
            }
            if (e == null) return null;
            String s = String.valueOf(e.data().get("status"));
            lastStatus = s;
            timeline.add(new Step(e.nanos() - t0, "MIGRATION " + s));
            if (observer != null) {
                try {
                    observer.status(s);
                } catch (Exception ex) {
                    throw new VmMigrationException(VmMigrationException.Kind.QMP, "observer: " + ex.getMessage(), ex);
                }
            }
            if (wanted.contains(s)) return s;
            if (ENDED.contains(s)) {
                ended = true;
                throw new VmMigrationException(VmMigrationException.Kind.QEMU_FAILED, "QEMU's migration " + s + ": " + errorDesc(), null);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private String errorDesc() {
        try {
            Map<String, Object> m = (Map<String, Object>) src.command("query-migrate", Map.of());
            Object d = m.get("error-desc");
            return d == null ? "no reason given" : d.toString();
        } catch (IOException e) {
            return "query-migrate: " + e.getMessage();
        }
    }

    /** After the storage committed: migrate-continue (QEMU switches over; the VM runs on the destination). */
    public void continueSwitchover() throws VmMigrationException {
        try {
            src.submit("migrate-continue", Map.of("state", "pre-switchover"));   // its reply is collected by finish()
        } catch (IOException e) {
            step("migrate-continue -> error: " + e.getMessage());
            throw new VmMigrationException(VmMigrationException.Kind.QMP, "source QEMU: " + e.getMessage(), e);
        }
        continued = true;
        step("migrate-continue");
    }

    /** Sends migrate-continue if {@link #continueSwitchover} has not, waits for completed and reads QEMU's downtime. */
    @SuppressWarnings("unchecked")
    public void finish() throws VmMigrationException {
        if (!continued) continueSwitchover();
        try {
            src.awaitSubmitted();
        } catch (IOException e) {
            step("migrate-continue -> error: " + e.getMessage());
            throw new VmMigrationException(VmMigrationException.Kind.QMP, "source QEMU refused migrate-continue: " + e.getMessage(), e);
        }
        String s = awaitStatus(timeout.toNanos(), Set.of("completed"));
        ended = true;
        if (s == null) throw new VmMigrationException(VmMigrationException.Kind.TIMEOUT, "QEMU's migration did not complete in " + timeout.toSeconds() + " s", null);
        // QEMU sends "completed" before its migration thread fills in downtime and total-time
        // (they read 0 until then), and no event follows: look again for a little while
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            Map<String, Object> m = (Map<String, Object>) src("query-migrate", Map.of());
            if (m.get("downtime") instanceof Number n) downtimeMs = n.longValue();
            if (m.get("total-time") instanceof Number n) totalTimeMs = n.longValue();
            if (totalTimeMs != null && totalTimeMs > 0 || System.nanoTime() > deadline) break;
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        step("query-migrate downtime " + downtimeMs + " ms, total-time " + totalTimeMs + " ms");
    }

    /**
     * Cancels QEMU's migration if it was started and has not ended (migrate_cancel; QEMU resumes the
     * VM on the source, also from pre-switchover) and waits for it to settle. Never throws: it runs
     * on failure paths; what went wrong is in the timeline.
     */
    public void cancel() {
        if (!started || ended || src == null) return;
        try {
            src.command("migrate_cancel", Map.of());
            step("migrate_cancel");
            String s = awaitStatus(Duration.ofSeconds(30).toNanos(), ENDED);
            ended = true;
            if (s == null) step("migrate_cancel: no end status within 30 s");
        } catch (IOException e) {
            step("migrate_cancel: " + e.getMessage());
        }
    }

    /** QEMU's downtime of the completed migration (query-migrate), or null. */
    public Long downtimeMs() {
        return downtimeMs;
    }

    /** QEMU's total-time of the completed migration, or null. */
    public Long totalTimeMs() {
        return totalTimeMs;
    }

    public List<Step> timeline() {
        synchronized (timeline) {
            return List.copyOf(timeline);
        }
    }

    /** The timeline as report rows: {"t_ms": ..., "what": ...}. */
    public List<Map<String, Object>> timelineReport() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Step s : timeline()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("t_ms", Math.round(s.atMs() * 10) / 10.0);
            m.put("what", s.what());
            out.add(m);
        }
        return out;
    }

    @Override
    public void close() {
        for (Qmp q : new Qmp[]{src, dst}) {
            try {
                if (q != null) q.close();
            } catch (IOException ignored) {
                // QEMU may be gone
            }
        }
    }
}
