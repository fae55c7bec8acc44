package dev.nvmelm.device;

import dev.nvmelm.spec.AsyncEvent;
import dev.nvmelm.spec.ControllerChoices;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.StartWhileLogging;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * A User Data Migration Queue as the controller produces it (NVMe Base 2.1, section 8.1.6;
 * NVM Command Set, section 5.6 and Figure 177; docs/spec.md), correct where
 * QEMU's emulation is not: the phase starts at 1 and flips on wrap; bytes 0-30 are written before
 * byte 31; the entry that fills the ring gets ESA 7 and a one-shot CDQ Full event, after which
 * logging stays broken until Track Send starts it again; a Track Send marker never takes the
 * last free slot, nor does a Suspend or Resume marker unless {@link ControllerChoices#markerWithoutRoom()}
 * is the spec's, under which it goes out as that ESA 7 entry; the Tail Pointer Trigger fires
 * once and disarms. The ring memory was resolved and bounds
 * checked at creation, so nothing here can write outside it.
 */
final class Cdq {
    static final Status CDQ_FULL = Status.dnr(StatusCodes.CDQ_FULL);
    static final Status INVALID_CDQ = Status.dnr(StatusCodes.INVALID_CDQ);
    final int cdqid;
    final int cntlid;
    final int entries;
    private final MemorySegment[] pages;   // PC=1: one segment; PC=0: one per 4 KiB page
    private final int pageSize;
    private final Consumer<AsyncEvent> events;
    private final ControllerChoices choices;
    private int head, tail;
    private boolean phase = true;
    private boolean etpt;
    private int tpt;
    private boolean logging;
    private boolean broken;
    private boolean deleted;
    private long entriesPosted;

    Cdq(int cdqid, int cntlid, int entries, MemorySegment[] pages, int pageSize, Consumer<AsyncEvent> events, ControllerChoices choices) {
        this.cdqid = cdqid;
        this.cntlid = cntlid;
        this.entries = entries;
        this.pages = pages;
        this.pageSize = pageSize;
        this.events = events;
        this.choices = choices;
    }

    synchronized boolean logging() { return logging; }

    synchronized int head() { return head; }

    synchronized int tptValue() { return etpt ? tpt : 0; }

    synchronized boolean etpt() { return etpt; }

    synchronized long entriesPosted() { return entriesPosted; }

    private int used() {
        return (tail - head + entries) % entries;
    }

    private int free() {
        return entries - 1 - used();
    }

    /** Logs a changed range if logging; called when the command completes. */
    synchronized void logRange(int nsid, long slba, long blockCount) {
        if (deleted || !logging || broken) return;
        if (free() == 0) return;   // cannot happen: the entry that fills the ring breaks logging
        post(LbaMigrationEntry.range(nsid, slba, blockCount, phase));
    }

    /**
     * Logs a change of every LBA of a namespace (Format NVM, Sanitize) as range entries that
     * cover it, at most 2^32 LBAs each (NLB is a 32-bit 0's based field). Not as LBACI 01b
     * "all logical blocks changed": NVM Command Set, Figure 177 requires LBACIR 00b in an entry
     * whose ESA is 000b, and such a change is neither a first nor a last entry.
     */
    synchronized void logNamespace(int nsid, long lbaCount) {
        for (long slba = 0; slba < lbaCount; slba += MAX_ENTRY_BLOCKS) {
            if (deleted || !logging || broken || free() == 0) return;
            post(LbaMigrationEntry.range(nsid, slba, Math.min(MAX_ENTRY_BLOCKS, lbaCount - slba), phase));
        }
    }

    /** LBAs one entry can report: NLB is 32 bits, 0's based. */
    static final long MAX_ENTRY_BLOCKS = 1L << 32;

    /**
     * Track Send start/stop: SUCCESS (marker posted, or no change), Controller Data Queue Full
     * when the marker has no room (it never takes the last free slot; 3Bh is Track Send's,
     * NVMe Base 2.1, Figure 103), or Invalid Controller Data Queue if the queue was deleted
     * before the command reached the MC. A start while logging posts nothing or a new ESA 1
     * ({@link ControllerChoices#startWhileLogging()}); a stop while stopped posts nothing.
     */
    synchronized Status setLogging(boolean start) {
        if (deleted) return INVALID_CDQ;
        boolean restart = start && logging && !broken && choices.startWhileLogging() == StartWhileLogging.RESTART;
        if (start == logging && !(start && broken) && !restart) return Status.SUCCESS;   // no change: success, no marker
        if (free() < 2) return CDQ_FULL;
        post(LbaMigrationEntry.marker(start ? LbaMigrationEntry.ESA_FIRST : LbaMigrationEntry.ESA_STOPPED, phase));
        logging = start;
        broken = false;
        return Status.SUCCESS;
    }

    /**
     * The MC finished suspending: ESA 3, posted whenever the MC has this queue, logging or not
     * (NVMe Base 2.1, section 5.1.17.1.1: the Suspend posts "an entry in that User Data
     * Migration Queue that indicates the specified controller is suspended"), so a host can
     * always drain to it.
     */
    synchronized Status suspendedMarker() {
        if (deleted) return INVALID_CDQ;
        return suspendOrResumeMarker(LbaMigrationEntry.ESA_SUSPENDED);
    }

    /**
     * A Suspend or Resume marker: posted when two slots are free. Otherwise 3Bh, or, with the
     * spec's {@link dev.nvmelm.spec.MarkerWithoutRoom#POST_QUEUE_FULL}, success: in the last free
     * slot the marker becomes the ESA 7 entry ({@link #post} marks the entry that fills the ring),
     * and a ring with no free slot already ends with one.
     */
    private Status suspendOrResumeMarker(int esa) {
        if (free() < 2 && choices.markerWithoutRoom().refuses()) return CDQ_FULL;
        if (free() > 0) post(LbaMigrationEntry.marker(esa, phase));
        return Status.SUCCESS;
    }

    /**
     * The MC resumed: ESA 1 if logging works. After an ESA 7 logging stays broken, and an
     * ESA 1 would tell the host that changes are logged again when they are not; only Track
     * Send start restarts it.
     */
    synchronized Status resumedMarker() {
        if (deleted) return INVALID_CDQ;
        if (!logging || broken) return Status.SUCCESS;
        return suspendOrResumeMarker(LbaMigrationEntry.ESA_FIRST);
    }

    /**
     * Delete CDQ (or MMC reset, or Suspend with DUDMQ): nothing is written into the ring after
     * this returns, so the host may free or reuse its memory at once, even if a command that
     * would post a marker is still on its way to the MC.
     */
    synchronized void delete() {
        deleted = true;
        logging = false;
        etpt = false;
    }

    /**
     * Set Features FID 21h: new head (must lie in [head, tail] modulo N: the host can only
     * consume what was produced) and the trigger. Returns false for an invalid value.
     */
    synchronized boolean setHeadAndTrigger(int newHead, boolean arm, int tptSlot) {
        if (newHead < 0 || newHead >= entries) return false;
        if ((newHead - head + entries) % entries > used()) return false;
        if (arm && (tptSlot < 0 || tptSlot >= entries)) return false;
        head = newHead;
        etpt = arm;
        tpt = arm ? tptSlot : 0;
        return true;
    }

    private void post(LbaMigrationEntry e) {
        int slot = tail;
        boolean entryPhase = phase;
        tail = (tail + 1) % entries;
        if (tail == 0) phase = !phase;
        boolean nowFull = free() == 0;
        LbaMigrationEntry out = new LbaMigrationEntry(e.nsid(), e.nlb(), e.slba(), entryPhase,
                nowFull ? LbaMigrationEntry.ESA_QUEUE_FULL : e.esa(), e.dlba(), e.lbaci());
        long off = (long) slot * LbaMigrationEntry.SIZE;
        try {
            MemorySegment page = pages.length == 1 ? pages[0] : pages[(int) (off / pageSize)];
            out.encode(page, pages.length == 1 ? off : off % pageSize);
        } catch (RuntimeException memoryGone) {
            broken = true;   // host freed the ring under us: stop producing, never write elsewhere
            logging = false;
            return;
        }
        entriesPosted++;
        if (nowFull) {
            broken = true;
            events.accept(AsyncEvent.cdqFull(cdqid));
        }
        if (etpt && choices.tailPointerTrigger().fires(slot, tpt, entries)) {
            etpt = false;
            events.accept(AsyncEvent.cdqTailPointer(cdqid));
        }
    }
}
