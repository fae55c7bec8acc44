package dev.nvmelm.device;

import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.Status;

import java.util.ArrayList;
import java.util.List;

/** A CDQ ring as a host consumer sees it: read in place by phase tag, head reported with Set Features 21h. */
final class Ring {
    final Sim.Host mmc;
    final Sim.Buf buf;
    final int entries;
    final int cdqid;
    /** Entries consumed so far (all passes); the head is this mod N. */
    long consumed;

    Ring(Sim.Host mmc, Sim.Buf buf, int entries, int cdqid) {
        this.mmc = mmc;
        this.buf = buf;
        this.entries = entries;
        this.cdqid = cdqid;
    }

    int slot(long k) {
        return (int) (k % entries);
    }

    /** The phase the controller writes during the pass containing entry number {@code k}. */
    boolean phaseOfPass(long k) {
        return (k / entries) % 2 == 0;
    }

    LbaMigrationEntry at(int slot) {
        return LbaMigrationEntry.decode(buf.seg(), (long) slot * LbaMigrationEntry.SIZE);
    }

    boolean isNew(long k) {
        return LbaMigrationEntry.phaseAt(buf.seg(), (long) slot(k) * LbaMigrationEntry.SIZE) == phaseOfPass(k);
    }

    /** Entries the controller produced that the consumer has not read yet (does not report the head). */
    List<LbaMigrationEntry> poll() {
        List<LbaMigrationEntry> out = new ArrayList<>();
        while (isNew(consumed) && out.size() < entries) {
            out.add(at(slot(consumed)));
            consumed++;
        }
        return out;
    }

    int head() {
        return slot(consumed);
    }

    /** Reports the consumer's head (no trigger). */
    Status reportHead() {
        return setHead(head(), false, 0);
    }

    Status setHead(int hp, boolean etpt, int tpt) {
        return mmc.admin(new CdqFeature.SetCdq(cdqid, hp, etpt, tpt).toSqe()).status();
    }

    /** Polls and reports the head. */
    List<LbaMigrationEntry> drain() {
        List<LbaMigrationEntry> l = poll();
        if (!l.isEmpty()) {
            Status s = reportHead();
            if (!s.isSuccess()) throw new AssertionError("head report " + head() + " failed: " + s);
        }
        return l;
    }
}
