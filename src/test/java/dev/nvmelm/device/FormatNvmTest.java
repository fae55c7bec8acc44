package dev.nvmelm.device;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Format NVM and Sanitize: erase (or overwrite), logged in the owning MC's queue as range entries covering the namespace (NVM Command Set, Figure 177); other formats refused. */
class FormatNvmTest {
    @TempDir
    Path dir;

    static List<LbaMigrationEntry> entries(CdqQueue q) {
        return dev.nvmelm.host.cdq.CdqRingReader.at(q, CdqQueue.Cursor.START).take(q.entryCount());
    }

    @Test
    void aFormatByTheMcErasesTheNamespaceAndIsLoggedAsARangeCoveringIt() throws Exception {
        try (Rig rig = new Rig(dir, 8 << 20, 2)) {
            MemorySegment buf = rig.guest.allocateBuffer(4096).fill((byte) 0x77);
            rig.guest.io(IoCommands.write(1, 10, 1, false).toSqe(), buf).orThrow("write");
            CdqQueue q = rig.mmc.createCdq(1, 64 * 32);
            rig.mmc.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_START, q.cdqid()).toSqe(), null).orThrow("track");

            rig.guest.admin(new AdminCommands.FormatNvm(1, 0, false, 0, false, AdminCommands.FormatNvm.SES_USER_DATA).toSqe(), null).orThrow("format");

            rig.guest.io(IoCommands.read(1, 10, 1).toSqe(), buf).orThrow("read");
            assertThat(buf.toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0);
            assertThat(Files.size(dir.resolve("c1n1.img"))).isEqualTo(8 << 20);
            Namespace ns = rig.subsystem.namespacesOf(1).getFirst();
            assertThat(ns.allocatedRuns(0, ns.lbaCount())).as("deallocated (SEEK_DATA finds nothing)").isEmpty();
            List<LbaMigrationEntry> e = entries(q);
            // NVM Command Set, Figure 177: an entry with ESA 000b has LBACIR 00b, so the whole
            // namespace is reported as a range, not as LBACIR 01b
            assertThat(e).hasSize(2);
            assertThat(e.get(1)).extracting(LbaMigrationEntry::esa, LbaMigrationEntry::lbaci, LbaMigrationEntry::nsid, LbaMigrationEntry::slba)
                    .containsExactly(LbaMigrationEntry.ESA_MIDDLE, LbaMigrationEntry.LBACI_RANGE, 1, 0L);
            assertThat(e.get(1).blockCount()).isEqualTo(ns.lbaCount());
        }
    }

    @Test
    void aFormatByTheMmcThroughTheSharedNsidIsLoggedForTheOwningMc() throws Exception {
        try (Rig rig = new Rig(dir, 8 << 20, 2)) {
            CdqQueue q2 = rig.mmc.createCdq(2, 64 * 32);
            rig.mmc.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_START, q2.cdqid()).toSqe(), null).orThrow("track");
            rig.mmc.admin(new AdminCommands.FormatNvm(2, 0, false, 0, false, 0).toSqe(), null).orThrow("format shared NSID 2");
            List<LbaMigrationEntry> e = entries(q2);
            assertThat(e).hasSize(2);
            assertThat(e.get(1)).extracting(LbaMigrationEntry::nsid, LbaMigrationEntry::lbaci, LbaMigrationEntry::slba).containsExactly(1, LbaMigrationEntry.LBACI_RANGE, 0L);
            assertThat(e.get(1).blockCount()).isEqualTo(rig.subsystem.namespacesOf(2).getFirst().lbaCount());
        }
    }

    @Test
    void otherFormatsAndUnknownNamespacesAreRefused() throws Exception {
        try (Rig rig = new Rig(dir, 8 << 20, 1)) {
            assertThat(rig.guest.admin(new AdminCommands.FormatNvm(1, 1, false, 0, false, 0).toSqe(), null).status().field()).isEqualTo(0x410a);
            assertThat(rig.guest.admin(new AdminCommands.FormatNvm(1, 0, false, 1, false, 0).toSqe(), null).status().field()).isEqualTo(0x410a);
            assertThat(rig.guest.admin(new AdminCommands.FormatNvm(1, 0, false, 0, false, 2).toSqe(), null).status().field()).isEqualTo(0x4002);
            assertThat(rig.guest.admin(new AdminCommands.FormatNvm(7, 0, false, 0, false, 0).toSqe(), null).status().field()).isEqualTo(0x400b);
            assertThat(rig.guest.admin(AdminCommands.FormatNvm.decode(new AdminCommands.FormatNvm(1, 0, false, 0, false, 0).toSqe()).toSqe().withCdw10(1 << 20), null)
                    .status().field()).isEqualTo(0x4002);   // reserved CDW10 bits
        }
    }

    @Test
    void encodingRoundTrips() {
        var f = new AdminCommands.FormatNvm(0xffffffff, 0x21, true, 5, true, 1);
        assertThat(AdminCommands.FormatNvm.decode(f.toSqe())).isEqualTo(f);
        assertThat(f.toSqe().cdw10()).isEqualTo(0x1 | 1 << 4 | 5 << 5 | 1 << 8 | 1 << 9 | 2 << 12);
    }

    @Test
    void sanitizeBlockEraseAndOverwriteAreLoggedAsEveryLbaChanged() throws Exception {
        try (Rig rig = new Rig(dir, 8 << 20, 1)) {
            MemorySegment buf = rig.guest.allocateBuffer(4096).fill((byte) 0x33);
            rig.guest.io(IoCommands.write(1, 5, 1, false).toSqe(), buf).orThrow("write");
            CdqQueue q = rig.mmc.createCdq(1, 64 * 32);
            rig.mmc.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_START, q.cdqid()).toSqe(), null).orThrow("track");
            rig.guest.admin(new AdminCommands.Sanitize(AdminCommands.Sanitize.OVERWRITE, false, 1, false, false, 0xdeadbeef).toSqe(), null).orThrow("overwrite");
            rig.guest.io(IoCommands.read(1, 5, 1).toSqe(), buf).orThrow("read");
            assertThat(buf.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 100)).isEqualTo(0xdeadbeef);
            rig.guest.admin(new AdminCommands.Sanitize(AdminCommands.Sanitize.BLOCK_ERASE, false, 0, false, false, 0).toSqe(), null).orThrow("block erase");
            rig.guest.io(IoCommands.read(1, 5, 1).toSqe(), buf).orThrow("read");
            assertThat(buf.toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0);
            assertThat(entries(q)).extracting(LbaMigrationEntry::lbaci, LbaMigrationEntry::esa).containsExactly(
                    org.assertj.core.groups.Tuple.tuple(LbaMigrationEntry.LBACI_NONE, LbaMigrationEntry.ESA_FIRST),
                    org.assertj.core.groups.Tuple.tuple(LbaMigrationEntry.LBACI_RANGE, LbaMigrationEntry.ESA_MIDDLE),
                    org.assertj.core.groups.Tuple.tuple(LbaMigrationEntry.LBACI_RANGE, LbaMigrationEntry.ESA_MIDDLE));
            assertThat(rig.guest.admin(new AdminCommands.Sanitize(7, false, 0, false, false, 0).toSqe(), null).status().field()).isEqualTo(0x4002);
            assertThat(rig.guest.admin(new AdminCommands.Sanitize(AdminCommands.Sanitize.OVERWRITE, false, 0, false, false, 1).toSqe(), null)
                    .status().field()).as("OWPASS 0").isEqualTo(0x4002);
        }
    }
}
