package dev.nvmelm.host.cdq;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.spec.TailPointerTrigger;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntSupplier;

/**
 * A CDQ ring plus the controller's side of it (docs/spec.md, "Controller Data Queue"): tail and
 * producer phase (1 on the first pass, inverted on wrap), full = (tail + 1) mod N == head, the
 * entry that fills the queue gets ESA 7 and a CDQ Full notification, entries are dropped while
 * full, and the one-shot Tail Pointer Trigger fires by the chosen {@link TailPointerTrigger}
 * rule. Each entry is written as bytes 0-30 and then byte 31 (with a release store), as a real
 * device orders its DMA.
 *
 * <p>It also checks the host: a head report outside the occupied region, or a consumer that
 * sleeps in {@link #awaitNotification} while an entry is waiting and no notification is
 * pending (the arming race of docs/spec.md, "Tail Pointer Trigger"), is recorded in {@link #violations()}.
 */
final class TestCdq implements CdqQueue {
    static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle BYTE = ValueLayout.JAVA_BYTE.varHandle();

    private final Arena arena = Arena.ofShared();
    private final MemorySegment ring;
    private final int n;
    private final int cdqid;
    private final TailPointerTrigger rule;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition signalled = lock.newCondition();
    private int tail, head, phase = 1;
    private boolean etpt;
    private int tpt;
    private int pendingNotifications;
    private long posted, dropped, tptEvents, fullEvents;
    private final List<String> violations = new ArrayList<>();
    private IntSupplier consumerHead;

    TestCdq(int entryCount, int cdqid) {
        this(entryCount, cdqid, TailPointerTrigger.SLOT_POSTED);
    }

    /** @param rule when an armed Tail Pointer Trigger fires (NVMe Base 2.1, Figure 426, or QEMU's) */
    TestCdq(int entryCount, int cdqid, TailPointerTrigger rule) {
        this.n = entryCount;
        this.cdqid = cdqid;
        this.rule = rule;
        this.ring = arena.allocate((long) entryCount * 32, 4096);   // zeroed: every phase tag 0
    }

    /** Lets the queue detect a consumer that sleeps with work pending. */
    void watchConsumer(IntSupplier head) {
        consumerHead = head;
    }

    /** The entry's bytes 0-30; byte 31 carries the attributes without phase (bit 0 is ignored). */
    static byte[] entry(int nsid, long nlbRaw, long slba, int esa, int lbaci, boolean dlba) {
        byte[] b = new byte[32];
        MemorySegment s = MemorySegment.ofArray(b);
        s.set(LE_INT, 0, nsid);
        s.set(LE_INT, 4, (int) nlbRaw);
        s.set(LE_LONG, 8, slba);
        b[31] = (byte) (esa << 1 | (dlba ? 0x20 : 0) | lbaci << 6);
        return b;
    }

    /** A change of {@code count} LBAs (NLB written 0's based). */
    static byte[] change(int nsid, long slba, long count) {
        return entry(nsid, count - 1, slba, 0, 0, false);
    }

    /** Posts a marker, refused rather than written into the slot that would fill the queue. */
    boolean postMarker(int esa) {
        return post(marker(esa), false);
    }

    static byte[] marker(int esa) {
        return entry(0, 0, 0, esa, 2, false);
    }

    /** Posts an entry; returns false if the queue was full and the entry was dropped. */
    boolean post(byte[] e) {
        return post(e, true);
    }

    /**
     * @param applyFull false for markers: they are refused (not written) when the queue is full,
     *                  where QEMU would wrongly write them into the last slot (docs/spec.md)
     */
    boolean post(byte[] e, boolean applyFull) {
        lock.lock();
        try {
            if ((tail + 1) % n == head || !applyFull && (tail + 2) % n == head) {
                dropped++;
                return false;
            }
            int slot = tail;
            int ph = phase;
            tail = (tail + 1) % n;
            if (tail == 0) phase ^= 1;
            byte attrs = (byte) (e[31] & 0xfe | ph);
            if ((tail + 1) % n == head) {
                attrs = (byte) (attrs & ~0x0e | 7 << 1);   // ESA 7: the queue is now full
                fullEvents++;
                notifyLocked();
            }
            long off = (long) slot * 32;
            MemorySegment.copy(e, 0, ring, ValueLayout.JAVA_BYTE, off, 31);
            BYTE.setRelease(ring, off + 31, attrs);
            posted++;
            if (etpt && rule.fires(slot, tpt, n)) {
                etpt = false;
                tptEvents++;
                notifyLocked();
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Free slots (usable capacity N-1). */
    int free() {
        lock.lock();
        try {
            return (head - tail - 1 + 2 * n) % n;
        } finally {
            lock.unlock();
        }
    }

    /** Set Features FID 21h as a correct controller applies it. */
    void setFeatures(int hp, boolean enableTrigger, int trigger) {
        lock.lock();
        try {
            int occupied = (tail - head + n) % n;
            int advance = (hp - head + n) % n;
            if (hp < 0 || hp >= n || advance > occupied) {
                violations.add("head report " + hp + " outside the occupied region [" + head + ", " + tail + "]");
                return;
            }
            head = hp;
            etpt = enableTrigger;
            tpt = trigger;
        } finally {
            lock.unlock();
        }
    }

    private void notifyLocked() {
        pendingNotifications++;
        signalled.signalAll();
    }

    @Override
    public boolean awaitNotification(Duration timeout) throws InterruptedException {
        lock.lock();
        try {
            if (pendingNotifications == 0 && consumerHead != null) {
                int h = consumerHead.getAsInt();
                // Sleeping with entries past the head is right while an armed trigger is still
                // ahead of them (k > 1: fewer than k entries arrived); it is a lost wake-up when
                // nothing is armed or the slot that fires was already posted without firing.
                int firing = rule == TailPointerTrigger.SLOT_POSTED ? tpt : (tpt - 1 + n) % n;
                boolean firingSlotPosted = (firing - h + n) % n < (tail - h + n) % n;
                if (h != tail && (!etpt || firingSlotPosted)) {
                    violations.add("consumer slept at head " + h + " with entries up to tail " + tail
                            + " and no notification pending");
                    return false;
                }
            }
            long nanos = timeout.toNanos();
            while (pendingNotifications == 0) {
                if (nanos <= 0) return false;
                nanos = signalled.awaitNanos(nanos);
            }
            pendingNotifications = 0;
            return true;
        } finally {
            lock.unlock();
        }
    }

    boolean awaitNotificationQuietly(long millis) throws InterruptedException {
        lock.lock();
        try {
            long nanos = TimeUnit.MILLISECONDS.toNanos(millis);
            while (pendingNotifications == 0 && nanos > 0) nanos = signalled.awaitNanos(nanos);
            return pendingNotifications > 0;
        } finally {
            lock.unlock();
        }
    }

    List<String> violations() {
        lock.lock();
        try {
            return List.copyOf(violations);
        } finally {
            lock.unlock();
        }
    }

    long posted() { lock.lock(); try { return posted; } finally { lock.unlock(); } }

    long dropped() { lock.lock(); try { return dropped; } finally { lock.unlock(); } }

    long tptEvents() { lock.lock(); try { return tptEvents; } finally { lock.unlock(); } }

    long fullEvents() { lock.lock(); try { return fullEvents; } finally { lock.unlock(); } }

    int controllerHead() { lock.lock(); try { return head; } finally { lock.unlock(); } }

    int tail() { lock.lock(); try { return tail; } finally { lock.unlock(); } }

    boolean triggerArmed() { lock.lock(); try { return etpt; } finally { lock.unlock(); } }

    /** Writes raw bytes into a slot, bypassing the producer (for hostile rings). */
    void poke(int slot, int offset, byte value) {
        ring.set(ValueLayout.JAVA_BYTE, (long) slot * 32 + offset, value);
    }

    @Override public int cdqid() { return cdqid; }

    @Override public int cntlid() { return 2; }

    @Override public int entryCount() { return n; }

    @Override public MemorySegment ring() { return ring.asReadOnly(); }

    @Override
    public void close() {
        arena.close();
    }
}
