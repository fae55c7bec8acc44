package dev.nvmelm.host.cdq;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nvmelm.fuzz.BytesProvider;
import dev.nvmelm.spec.LbaMigrationEntry;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static dev.nvmelm.fuzz.Fuzz.check;

/**
 * A User Data Migration Queue written by a hostile controller, read by {@link CdqRingReader}
 * (docs/cdq.md): whatever the entries say, the reader throws nothing, consumes exactly the
 * entries whose phase tag is new, and every well-formed range entry of a tracked namespace
 * ends up dirty in that namespace's DirtyExtents (or the namespace wholly dirty).
 */
public class CdqRingFuzzTest {
    private static final long NS1_LBAS = 1 << 20, NS2_LBAS = 1000;

    @FuzzTest(maxDuration = "2s")
    void ring(byte[] input) {
        ringOnce(input);
    }

    public static void ringOnce(byte[] input) {
        BytesProvider d = new BytesProvider(input);
        int entries = d.consumeInt(2, 64);
        int batch = d.consumeInt(1, 8);
        byte[] ring = new byte[entries * CdqRingReader.ENTRY_BYTES];
        byte[] written = d.consumeBytes(ring.length);
        System.arraycopy(written, 0, ring, 0, written.length);
        MemorySegment m = MemorySegment.ofArray(ring);
        DirtyExtents ns1 = new DirtyExtents(1, NS1_LBAS, 4096), ns2 = new DirtyExtents(2, NS2_LBAS, 512);
        List<CdqAnomaly> anomalies = new ArrayList<>();
        CdqRingReader reader = new CdqRingReader(m, entries, List.of(ns1, ns2), new CdqListener() {
            @Override
            public void onAnomaly(CdqAnomaly a) {
                anomalies.add(a);
            }
        }, batch);
        // the host zeroed the ring, so the first pass's new entries are those with phase 1, up to the first with phase 0
        int fresh = 0;
        while (fresh < entries && LbaMigrationEntry.phaseAt(m, (long) fresh * CdqRingReader.ENTRY_BYTES)) fresh++;
        long consumed = 0;
        for (int i = 0; i <= entries && reader.entryAvailable(); i++) consumed += reader.drain(d.consumeInt(1, entries));
        check(!reader.entryAvailable(), "entries left after " + (entries + 1) + " drains");
        check(consumed == fresh && reader.sequence() == fresh, "consumed " + consumed + " entries, " + fresh + " were new");
        check(reader.head() == fresh % entries, "head " + reader.head() + " after " + fresh + " of " + entries + " entries");
        for (int slot = 0; slot < fresh; slot++) {
            long off = (long) slot * CdqRingReader.ENTRY_BYTES;
            LbaMigrationEntry e = LbaMigrationEntry.decode(m, off);
            if (e.esa() != LbaMigrationEntry.ESA_MIDDLE || e.lbaci() != LbaMigrationEntry.LBACI_RANGE || e.dlba()
                    || LbaMigrationEntry.reservedBitsSet(m, off)) continue;
            DirtyExtents ns = e.nsid() == 1 ? ns1 : e.nsid() == 2 ? ns2 : null;
            if (ns == null) continue;
            long count = e.blockCount();
            if (e.slba() < 0 || count <= 0 || e.slba() > ns.lbaCount() - count) continue;
            long covered = 0;
            for (LbaRange r : ns.snapshot(e.slba(), e.slba() + count)) covered += r.count();
            check(covered == count, "slot " + slot + ": NSID " + e.nsid() + " SLBA " + e.slba() + " +" + count + " is only " + covered + " LBAs dirty");
        }
    }
}
