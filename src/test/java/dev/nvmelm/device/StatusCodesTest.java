package dev.nvmelm.device;

import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.GetLbaStatus;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.LittleEndian;
import dev.nvmelm.spec.MigrationReceiveCommand;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.IoOpcode;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every status the controller produces for HMLM and standard commands (docs/spec.md, "Status codes"), as the
 * 15-bit value Linux passthrough returns and nvme-cli prints (DNR 4000h | SCT << 8 | SC). Each
 * test also checks that the controller stayed healthy: no fatal status, nothing thrown out of
 * its executor (the {@link Sim} fails on that).
 */
class StatusCodesTest {
    static final int SUCCESS = 0, INVALID_OPCODE = 0x4001, INVALID_FIELD = 0x4002, DATA_TRANSFER_ERROR = 0x4004,
            INVALID_NS = 0x400b, CMD_SEQ_ERROR = 0x400c, PRP_OFFSET_INVALID = 0x4013, LBA_RANGE = 0x4080,
            CQ_INVALID = 0x4100, INVALID_QID = 0x4101, INVALID_QSIZE = 0x4102, AER_LIMIT = 0x4105, INVALID_LOG_PAGE = 0x4109,
            INVALID_QUEUE_DELETION = 0x410c, FEATURE_NOT_SAVEABLE = 0x410d, INVALID_CTRL_ID = 0x411f, INVALID_CDQ = 0x4137,
            CTRL_SUSPENDED = 0x4139, CTRL_NOT_SUSPENDED = 0x413a, CMD_SIZE_LIMIT = 0x4183;

    static int field(Cqe c) {
        return c.status().field();
    }

    static void healthy(Fx fx) {
        assertThat(fx.fatal(fx.mmc)).as("MMC fatal status").isFalse();
        assertThat(fx.fatal(fx.mc)).as("MC fatal status").isFalse();
        assertThat(fx.sim.steps.escaped).isEmpty();
    }

    static Sqe suspend(int cntlid) {
        return new MigrationSendCommand.Suspend(cntlid, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe();
    }

    @Test
    void trackSend(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 16);
            assertThat(field(fx.mmc.admin(TrackSendCommand.start(5).toSqe()))).as("unknown CDQID").isEqualTo(INVALID_CDQ);
            assertThat(field(fx.mc.admin(TrackSendCommand.start(ring.cdqid).toSqe()))).as("sent to the MC").isEqualTo(INVALID_OPCODE);
            assertThat(field(fx.mmc.admin(new TrackSendCommand(TrackSendCommand.SEL_TRACK_MEMORY, 1, ring.cdqid).toSqe())))
                    .as("SEL 1: memory tracking not offered").isEqualTo(INVALID_FIELD);
            for (int lact = 2; lact < 16; lact++) {
                assertThat(field(fx.mmc.admin(new TrackSendCommand(0, lact, ring.cdqid).toSqe()))).as("LACT %d", lact).isEqualTo(INVALID_FIELD);
            }
            Sqe start = TrackSendCommand.start(ring.cdqid).toSqe();
            assertThat(field(fx.mmc.admin(start.withCdw10(start.cdw10() | 1 << 8)))).isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(start.withCdw10(start.cdw10() | 1 << 20)))).isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(start.withCdw11(start.cdw11() | 1 << 16)))).isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(Sqe.of(AdminOpcode.TRACK_RECEIVE)))).as("Track Receive").isEqualTo(INVALID_FIELD);
            assertThat(ring.poll()).as("no marker from a failed command").isEmpty();

            assertThat(field(fx.mmc.admin(suspend(1)))).isEqualTo(SUCCESS);
            assertThat(field(fx.mmc.admin(start))).as("MC suspended").isEqualTo(CTRL_SUSPENDED);
            assertThat(field(fx.mmc.admin(TrackSendCommand.stop(ring.cdqid).toSqe()))).isEqualTo(CTRL_SUSPENDED);
            healthy(fx);
        }
    }

    @Test
    void suspendAndResume(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Cqe notSuspended = fx.mmc.admin(new MigrationSendCommand.Resume(1, 0).toSqe());
            assertThat(notSuspended.status().sct()).isEqualTo(1);
            assertThat(notSuspended.status().sc()).isEqualTo(0x3a);
            assertThat(field(notSuspended)).isEqualTo(CTRL_NOT_SUSPENDED);
            for (int cntlid : new int[]{0, 3, 0xffff}) {
                assertThat(field(fx.mmc.admin(suspend(cntlid)))).as("suspend CNTLID %d", cntlid).isEqualTo(INVALID_CTRL_ID);
                assertThat(field(fx.mmc.admin(new MigrationSendCommand.Resume(cntlid, 0).toSqe()))).isEqualTo(INVALID_CTRL_ID);
            }
            assertThat(field(fx.mc.admin(suspend(1)))).as("sent to an MC").isEqualTo(INVALID_OPCODE);
            assertThat(field(fx.mmc.admin(new MigrationSendCommand.Suspend(1, 2, false, 0).toSqe()))).as("STYPE 2").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(new MigrationSendCommand.Suspend(1, 1, false, 1).toSqe()))).as("UIDX").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(suspend(1).withCdw11(suspend(1).cdw11() | 1 << 24)))).as("CDW11[30:24]").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(suspend(1).withCdw10(1 << 16)))).as("Suspend MOS").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(suspend(1).withCdw10(3)))).as("SEL 3").isEqualTo(INVALID_FIELD);
            Sqe resume = new MigrationSendCommand.Resume(1, 0).toSqe();
            assertThat(field(fx.mmc.admin(resume.withCdw11(1 | 1 << 16)))).as("Resume CDW11[31:16]").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(resume.withCdw14(1 << 7)))).as("CDW14[31:7]").isEqualTo(INVALID_FIELD);
            // Suspend Notification changes nothing
            assertThat(field(fx.mmc.admin(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_NOTIFICATION, true, 0).toSqe())))
                    .isEqualTo(SUCCESS);
            assertThat(fx.sim.subsystem.controller(1).migrationState()).isEqualTo(Controller.State.ACTIVE);
            assertThat(field(fx.write(1, 0, 1))).isEqualTo(SUCCESS);
            // suspend twice is fine; the second changes nothing
            assertThat(field(fx.mmc.admin(suspend(1)))).isEqualTo(SUCCESS);
            assertThat(field(fx.mmc.admin(suspend(1)))).isEqualTo(SUCCESS);
            assertThat(field(fx.mmc.admin(resume))).isEqualTo(SUCCESS);
            assertThat(field(fx.mmc.admin(resume))).isEqualTo(CTRL_NOT_SUSPENDED);
            healthy(fx);
        }
    }

    /**
     * NVMe Base 2.1, section 5.1.22 (page 388): "If one or more controllers in the NVM subsystem
     * is suspended ..., then the controller shall abort the command with a status code of
     * Controller Suspended" (39h, Figure 374). Whoever sends it; nothing is erased.
     */
    @Test
    void sanitizeWhileAControllerIsSuspended(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir, 2)) {
            Sqe erase = new AdminCommands.Sanitize(AdminCommands.Sanitize.BLOCK_ERASE, false, 0, false, false, 0).toSqe();
            assertThat(field(fx.write(1, 3, 1))).isEqualTo(SUCCESS);
            Sim.Host mc2 = fx.sim.host(2);
            assertThat(field(fx.mmc.admin(suspend(1)))).isEqualTo(SUCCESS);
            assertThat(field(fx.mmc.admin(erase))).as("from the MMC").isEqualTo(CTRL_SUSPENDED);
            assertThat(field(mc2.admin(erase))).as("from another MC").isEqualTo(CTRL_SUSPENDED);
            assertThat(fx.sim.subsystem.namespacesOf(1).getFirst().allocatedRuns(0, 8)).as("LBA 3 still written").isNotEmpty();
            assertThat(field(fx.mmc.admin(new MigrationSendCommand.Resume(1, 0).toSqe()))).isEqualTo(SUCCESS);
            assertThat(field(mc2.admin(erase))).as("no controller suspended").isEqualTo(SUCCESS);
            healthy(fx);
        }
    }

    /** A chunk of state carried by a Set Controller State command to MC {@code cntlid}. */
    static Cqe setState(Fx fx, int cntlid, int seqind, byte[] state, int offset, int length) {
        Sim.Buf buf = fx.sim.alloc(Math.max(4, length));
        MemorySegment.copy(state, offset, buf.seg(), ValueLayout.JAVA_BYTE, 0, length);
        Sqe s = new MigrationSendCommand.SetControllerState(cntlid, seqind, 1, 0, offset, 0, length / 4).toSqe();
        return fx.mmc.admin(fx.mmc.withData(s, buf));
    }

    @Test
    void setControllerState(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            byte[] state = new ControllerState(0, true, 0, List.of(), List.of(), new byte[0]).encode();
            int all = MigrationSendCommand.SEQIND_ENTIRE;
            assertThat(field(setState(fx, 2, all, state, 0, state.length))).as("MC 2 running").isEqualTo(CTRL_NOT_SUSPENDED);
            fx.mmc.admin(suspend(1));
            // NVMe Base 2.1, Figure 362: 1Fh, "not in a condition to set the controller state"
            assertThat(field(setState(fx, 1, all, state, 0, state.length))).as("MC 1 has I/O queues").isEqualTo(INVALID_CTRL_ID);
            assertThat(field(setState(fx, 7, all, state, 0, state.length))).isEqualTo(INVALID_CTRL_ID);
            fx.mmc.admin(suspend(2));
            Sim.Buf buf = fx.sim.alloc(state.length);
            MemorySegment.copy(state, 0, buf.seg(), ValueLayout.JAVA_BYTE, 0, state.length);
            for (int[] bad : new int[][]{{0, 0}, {2, 0}, {1, 1}}) {   // CSVI 0 and 2, CSUUIDI 1
                Sqe s = new MigrationSendCommand.SetControllerState(2, all, bad[0], bad[1], 0, 0, state.length / 4).toSqe();
                assertThat(field(fx.mmc.admin(fx.mmc.withData(s, buf)))).as("CSVI %d CSUUIDI %d", bad[0], bad[1]).isEqualTo(INVALID_FIELD);
            }
            Sqe zero = new MigrationSendCommand.SetControllerState(2, all, 1, 0, 0, 0, 0).toSqe();
            assertThat(field(fx.mmc.admin(zero.withPrp(buf.iova(), 0)))).as("NUMD 0 opening a sequence").isEqualTo(INVALID_FIELD);
            Sqe odd = new MigrationSendCommand.SetControllerState(2, MigrationSendCommand.SEQIND_LAST, 1, 0, 2, 0, 1).toSqe();
            assertThat(field(fx.mmc.admin(odd.withPrp(buf.iova(), 0)))).as("offset not dword aligned").isEqualTo(INVALID_FIELD);
            Sqe outside = new MigrationSendCommand.SetControllerState(2, all, 1, 0, 0, 0, state.length / 4).toSqe();
            assertThat(field(fx.mmc.admin(outside.withPrp(0x3000, 0)))).as("data outside host memory").isEqualTo(DATA_TRANSFER_ERROR);
            assertThat(field(fx.mmc.admin(outside.withCdw10(outside.cdw10() | 1 << 18).withPrp(buf.iova(), 0)))).as("MOS[15:2]")
                    .isEqualTo(INVALID_FIELD);

            // chunks: middle or last without a first is a sequence error, a gap is an invalid field
            assertThat(field(setState(fx, 2, MigrationSendCommand.SEQIND_MIDDLE, state, 0, 16))).isEqualTo(CMD_SEQ_ERROR);
            assertThat(field(setState(fx, 2, MigrationSendCommand.SEQIND_LAST, state, 0, state.length))).isEqualTo(CMD_SEQ_ERROR);
            assertThat(field(setState(fx, 2, MigrationSendCommand.SEQIND_FIRST, state, 0, 16))).isEqualTo(SUCCESS);
            assertThat(field(setState(fx, 2, MigrationSendCommand.SEQIND_MIDDLE, state, 20, 8))).as("gap").isEqualTo(INVALID_FIELD);
            assertThat(field(setState(fx, 2, MigrationSendCommand.SEQIND_LAST, state, 16, state.length - 16))).as("sequence was dropped")
                    .isEqualTo(CMD_SEQ_ERROR);
            assertThat(field(setState(fx, 2, MigrationSendCommand.SEQIND_FIRST, state, 0, 16))).isEqualTo(SUCCESS);
            assertThat(field(setState(fx, 2, MigrationSendCommand.SEQIND_FIRST, state, 0, 24))).as("a new first restarts").isEqualTo(SUCCESS);
            assertThat(field(setState(fx, 2, MigrationSendCommand.SEQIND_MIDDLE, state, 24, state.length - 24))).isEqualTo(SUCCESS);
            // NVMe Base 2.1, section 5.1.17.1.3: the SEQIND 10b command commits; it may carry no data
            Sqe lastEmpty = new MigrationSendCommand.SetControllerState(2, MigrationSendCommand.SEQIND_LAST, 1, 0, state.length, 0, 0).toSqe();
            assertThat(field(fx.mmc.admin(lastEmpty))).as("a last command with NUMD 0 commits").isEqualTo(SUCCESS);

            // garbage and inconsistent states change nothing
            byte[] junk = state.clone();
            junk[3] = 1;   // reserved header byte
            assertThat(field(setState(fx, 2, all, junk, 0, junk.length))).isEqualTo(INVALID_FIELD);
            Sim.Buf cqBase = fx.sim.alloc(4096);
            byte[] badQueues = new ControllerState(0, true, 0,
                    List.of(new dev.nvmelm.spec.IoSqState(0x7000_0000_0000L, 15, 1, 1, true, 0, 0, 0)),
                    List.of(new dev.nvmelm.spec.IoCqState(cqBase.iova(), 15, 1, 0, 0, true, true, true, 1)), new byte[0]).encode();
            assertThat(field(setState(fx, 2, all, badQueues, 0, badQueues.length))).as("SQ outside memory").isEqualTo(INVALID_FIELD);
            byte[] unaligned = new ControllerState(0, true, 0, List.of(),
                    List.of(new dev.nvmelm.spec.IoCqState(cqBase.iova() + 16, 15, 1, 0, 0, true, true, true, 1)), new byte[0]).encode();
            assertThat(field(setState(fx, 2, all, unaligned, 0, unaligned.length))).as("CQ base not page aligned").isEqualTo(INVALID_FIELD);
            assertThat(fx.sim.subsystem.controller(2).hasIoQueues()).as("all or nothing").isFalse();
            healthy(fx);
        }
    }

    @Test
    void migrationReceive(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Sim.Buf buf = fx.sim.alloc(4096);
            int total = 48 + 8 + 4 * 24;
            assertThat(field(fx.mmc.admin(fx.mmc.withData(MigrationReceiveCommand.read(1, 1, total, 4).toSqe(), buf))))
                    .as("offset at the end").isEqualTo(INVALID_FIELD);
            Sqe unaligned = MigrationReceiveCommand.read(1, 1, 0, 8).toSqe().withCdw12(2);
            assertThat(field(fx.mmc.admin(fx.mmc.withData(unaligned, buf)))).as("offset 2").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(fx.mmc.withData(MigrationReceiveCommand.read(9, 1, 0, 64).toSqe(), buf)))).isEqualTo(INVALID_CTRL_ID);
            assertThat(field(fx.mmc.admin(fx.mmc.withData(MigrationReceiveCommand.read(1, 2, 0, 64).toSqe(), buf)))).as("CSVI 2").isEqualTo(INVALID_FIELD);
            Sqe uuid = new MigrationReceiveCommand(1, 1, 1, 0, 0, 0, 15).toSqe();
            assertThat(field(fx.mmc.admin(fx.mmc.withData(uuid, buf)))).as("CSUUIDI").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(MigrationReceiveCommand.read(1, 1, 0, 64).toSqe().withCdw10(1)))).as("SEL 1").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mmc.admin(MigrationReceiveCommand.read(1, 1, 0, 64).toSqe().withPrp(0x5000, 0))))
                    .as("buffer outside host memory").isEqualTo(DATA_TRANSFER_ERROR);
            assertThat(field(fx.mc.admin(MigrationReceiveCommand.read(1, 1, 0, 64).toSqe()))).isEqualTo(INVALID_OPCODE);

            // any offset and length: the bytes are those of the whole state, nothing past it is written
            buf.seg().fill((byte) 0x77);
            Cqe whole = fx.mmc.admin(fx.mmc.withData(MigrationReceiveCommand.read(1, 1, 0, 4096).toSqe(), buf));
            assertThat(field(whole)).isZero();
            assertThat(whole.dw0()).as("CSUP: not suspended").isZero();
            byte[] state = buf.seg().asSlice(0, total).toArray(ValueLayout.JAVA_BYTE);
            assertThat(buf.seg().asSlice(total).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0x77);
            assertThat(ControllerState.decode(state).sqs()).hasSize(2);
            Sim.Buf part = fx.sim.alloc(4096);
            part.seg().fill((byte) 0x77);
            assertThat(field(fx.mmc.admin(fx.mmc.withData(MigrationReceiveCommand.read(1, 1, 52, 4096).toSqe(), part)))).isZero();
            assertThat(part.seg().asSlice(0, total - 52).toArray(ValueLayout.JAVA_BYTE))
                    .isEqualTo(java.util.Arrays.copyOfRange(state, 52, total));
            assertThat(part.seg().get(ValueLayout.JAVA_BYTE, total - 52)).isEqualTo((byte) 0x77);
            Sim.Buf header = fx.sim.alloc(4096);
            assertThat(field(fx.mmc.admin(fx.mmc.withData(MigrationReceiveCommand.read(1, 0, 0, 4096).toSqe(), header)))).isZero();
            assertThat(ControllerState.Header.decode(header.seg().asSlice(0, 48).toArray(ValueLayout.JAVA_BYTE)).nvmeStateDwords())
                    .as("CSVI 0: header only").isZero();
            fx.mmc.admin(suspend(1));
            assertThat(fx.mmc.admin(fx.mmc.withData(MigrationReceiveCommand.read(1, 1, 0, 64).toSqe(), buf)).dw0()).as("CSUP").isEqualTo(1);
            healthy(fx);
        }
    }

    @Test
    void dataPointersOutsideHostMemoryOrMisaligned(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Sim.Buf data = fx.sim.alloc(3 * 4096);
            data.seg().fill((byte) 0x33);
            assertThat(field(fx.mc.io(1, fx.mc.withData(IoCommands.write(1, 0, 24, false).toSqe(), data)))).isZero();
            Sqe read1 = IoCommands.read(1, 0, 1).toSqe();
            assertThat(field(fx.mc.io(1, read1.withPrp(0x1000, 0)))).as("PRP1 unmapped").isEqualTo(DATA_TRANSFER_ERROR);
            assertThat(field(fx.mc.io(1, read1.withPrp(0, 0)))).as("PRP1 zero").isEqualTo(DATA_TRANSFER_ERROR);
            assertThat(field(fx.mc.io(1, read1.withPrp(data.iova() + 2, 0)))).as("PRP1 not dword aligned").isEqualTo(PRP_OFFSET_INVALID);
            Sqe read16 = IoCommands.read(1, 0, 16).toSqe();   // 8 KiB from the start of a page: PRP1 + PRP2
            assertThat(field(fx.mc.io(1, read16.withPrp(data.iova(), data.iova() + 4096 + 512)))).as("PRP2 with an offset")
                    .isEqualTo(PRP_OFFSET_INVALID);
            assertThat(field(fx.mc.io(1, read16.withPrp(data.iova(), 0x9000)))).as("PRP2 unmapped").isEqualTo(DATA_TRANSFER_ERROR);
            Sqe read24 = IoCommands.read(1, 0, 24).toSqe();   // 12 KiB: PRP2 is a list
            assertThat(field(fx.mc.io(1, read24.withPrp(data.iova(), 0xa000)))).as("PRP list unmapped").isEqualTo(DATA_TRANSFER_ERROR);
            Sim.Buf list = fx.sim.alloc(4096);
            list.seg().set(LittleEndian.U64, 0, data.iova() + 4096);
            list.seg().set(LittleEndian.U64, 8, 0x7700_0000_0000L);
            assertThat(field(fx.mc.io(1, read24.withPrp(data.iova(), list.iova())))).as("PRP list entry unmapped").isEqualTo(DATA_TRANSFER_ERROR);
            list.seg().set(LittleEndian.U64, 8, data.iova() + 2 * 4096 + 8);
            assertThat(field(fx.mc.io(1, read24.withPrp(data.iova(), list.iova())))).as("PRP list entry with an offset")
                    .isEqualTo(PRP_OFFSET_INVALID);
            // a write whose data cannot be fetched changes nothing on the namespace
            Sqe write24 = IoCommands.write(1, 0, 24, false).toSqe();
            list.seg().set(LittleEndian.U64, 8, 0x7700_0000_0000L);
            assertThat(field(fx.mc.io(1, write24.withPrp(data.iova(), list.iova())))).isEqualTo(DATA_TRANSFER_ERROR);
            Sim.Buf back = fx.sim.alloc(24 * 512);
            assertThat(field(fx.mc.io(2, fx.mc.withData(read24, back)))).isZero();
            assertThat(back.seg().toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0x33);
            // admin data pointers too
            Sqe identify = new AdminCommands.Identify(AdminCommands.CNS_CONTROLLER, 0, 0, 0).toSqe();
            assertThat(field(fx.mmc.admin(identify.withPrp(0x1000, 0)))).isEqualTo(DATA_TRANSFER_ERROR);
            assertThat(field(fx.mmc.admin(identify.withPrp(data.iova() + 512, data.iova() + 4096 + 100)))).isEqualTo(PRP_OFFSET_INVALID);
            healthy(fx);
        }
    }

    @Test
    void ioCommands(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Sim.Buf b = fx.sim.alloc(4096);
            assertThat(field(fx.mc.io(1, fx.mc.withData(IoCommands.read(1, 8191, 1).toSqe(), b)))).isZero();
            assertThat(field(fx.mc.io(1, fx.mc.withData(IoCommands.read(1, 8191, 2).toSqe(), b)))).isEqualTo(LBA_RANGE);
            assertThat(field(fx.mc.io(1, fx.mc.withData(IoCommands.read(1, -1L, 1).toSqe(), b)))).isEqualTo(LBA_RANGE);
            for (int nsid : new int[]{0, 2, -1}) {
                assertThat(field(fx.mc.io(1, fx.mc.withData(IoCommands.read(nsid, 0, 1).toSqe(), b)))).as("NSID %x", nsid).isEqualTo(INVALID_NS);
            }
            assertThat(field(fx.mc.io(1, IoCommands.read(1, 0, 2049).toSqe().withPrp(b.iova(), 0)))).as("beyond MDTS").isEqualTo(INVALID_FIELD);
            for (int op : new int[]{IoOpcode.WRITE_UNCORRECTABLE.value(), IoOpcode.COMPARE.value(), 0x7e, 0x81, 0xff}) {
                assertThat(field(fx.mc.io(1, Sqe.raw(op).withNsid(1)))).as("I/O opcode %x", op).isEqualTo(INVALID_OPCODE);
                assertThat(field(fx.mc.io(1, Sqe.raw(op)))).as("I/O opcode %x, NSID 0", op).isEqualTo(INVALID_OPCODE);
            }
            Sqe sgl = fx.mc.withData(IoCommands.read(1, 0, 1).toSqe(), b);
            assertThat(field(fx.mc.io(1, new Sqe(sgl.opcode(), 0x40, 0, 1, 0, 0, 0, sgl.prp1(), 0, 0, 0, 0, 0, 0, 0))))
                    .as("PSDT 01b: SGLs are not supported").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mc.io(1, new Sqe(sgl.opcode(), 0x01, 0, 1, 0, 0, 0, sgl.prp1(), 0, 0, 0, 0, 0, 0, 0))))
                    .as("FUSE: fused operations are not supported").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mc.io(1, IoCommands.flush(-1)))).as("flush all namespaces").isZero();
            assertThat(field(fx.mc.io(1, IoCommands.flush(3)))).isEqualTo(INVALID_NS);
            healthy(fx);
        }
    }

    static Cqe copy(Sim sim, Sim.Host mc, long sdlba, List<IoCommands.CopyRange> ranges) {
        Sim.Buf buf = sim.alloc((long) ranges.size() * IoCommands.CopyRange.SIZE);
        IoCommands.encodeCopyRanges(ranges, buf.seg());
        return mc.io(1, mc.withData(new IoCommands.Copy(1, sdlba, ranges.size()).toSqe(), buf));
    }

    @Test
    void copyLimitsAreThoseIdentifyNamespaceReports(@TempDir Path dir) throws Exception {
        try (Sim sim = new Sim(dir, 1, 64L << 20, 512)) {   // 131072 LBAs
            Sim.Host mc = sim.host(1);
            mc.createIoQueues(1, 16);
            Sim.Buf id = sim.alloc(4096);
            assertThat(field(mc.admin(mc.withData(new AdminCommands.Identify(AdminCommands.CNS_NAMESPACE, 0, 1, 0).toSqe(), id)))).isZero();
            dev.nvmelm.spec.IdentifyNamespace ns = dev.nvmelm.spec.IdentifyNamespace.decode(id.seg());
            int mssrl = ns.mssrl(), mcl = ns.mcl(), msrc = ns.msrcZeroBased();
            assertThat(mssrl).isBetween(1, 65535);
            assertThat(mcl).isGreaterThanOrEqualTo(mssrl);

            assertThat(field(copy(sim, mc, 70000, List.of(new IoCommands.CopyRange(0, mssrl))))).as("range of MSSRL + 1").isEqualTo(CMD_SIZE_LIMIT);
            assertThat(field(copy(sim, mc, 70000, List.of(new IoCommands.CopyRange(0, mssrl - 1))))).as("range of MSSRL").isZero();
            List<IoCommands.CopyRange> many = java.util.Collections.nCopies(msrc + 2, new IoCommands.CopyRange(0, 0));
            assertThat(field(copy(sim, mc, 70000, many))).as("MSRC + 2 ranges").isEqualTo(CMD_SIZE_LIMIT);
            assertThat(field(copy(sim, mc, 70000, many.subList(0, msrc + 1)))).as("MSRC + 1 ranges").isZero();
            List<IoCommands.CopyRange> overMcl = new java.util.ArrayList<>();
            for (long left = mcl + 1L; left > 0; left -= mssrl) overMcl.add(new IoCommands.CopyRange(0, (int) Math.min(left, mssrl) - 1));
            assertThat(field(copy(sim, mc, 0, overMcl))).as("MCL + 1 LBAs in total").isEqualTo(CMD_SIZE_LIMIT);
            Sqe fmt1 = new IoCommands.Copy(1, 0, 1).toSqe();
            assertThat(field(mc.io(1, mc.withData(fmt1.withCdw12(fmt1.cdw12() | 1 << 8), sim.alloc(32))))).as("descriptor format 1")
                    .isEqualTo(INVALID_FIELD);
            assertThat(field(copy(sim, mc, 131072 - 1, List.of(new IoCommands.CopyRange(0, 1))))).as("destination past the end")
                    .isEqualTo(LBA_RANGE);

            // overlapping source and destination copy what was there before the command
            Sim.Buf data = sim.alloc(16 * 512);
            for (int i = 0; i < 16; i++) data.seg().asSlice(i * 512L, 512).fill((byte) (i + 1));
            assertThat(field(mc.io(1, mc.withData(IoCommands.write(1, 100, 16, false).toSqe(), data)))).isZero();
            assertThat(field(copy(sim, mc, 104, List.of(new IoCommands.CopyRange(100, 7), new IoCommands.CopyRange(108, 3))))).isZero();
            Sim.Buf back = sim.alloc(20 * 512);
            assertThat(field(mc.io(1, mc.withData(IoCommands.read(1, 100, 20).toSqe(), back)))).isZero();
            int[] expected = {1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0};
            for (int i = 0; i < 20; i++) assertThat(back.seg().get(ValueLayout.JAVA_BYTE, i * 512L)).as("LBA %d", 100 + i).isEqualTo((byte) expected[i]);
        }
    }

    @Test
    void adminCommands(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            for (int op : new int[]{0x03, 0x7f, 0xc1, 0xff}) {
                assertThat(field(fx.mmc.admin(Sqe.raw(op)))).as("admin opcode %x", op).isEqualTo(INVALID_OPCODE);
            }
            for (AdminOpcode op : List.of(AdminOpcode.CONTROLLER_DATA_QUEUE, AdminOpcode.MIGRATION_SEND, AdminOpcode.MIGRATION_RECEIVE,
                    AdminOpcode.TRACK_SEND)) {
                assertThat(field(fx.mc.admin(Sqe.of(op)))).as("HMLM opcode %s on an MC", op).isEqualTo(INVALID_OPCODE);
            }
            Sim.Buf b = fx.sim.alloc(4096);
            assertThat(field(fx.mmc.admin(fx.mmc.withData(new AdminCommands.Identify(0x99, 0, 0, 0).toSqe(), b)))).isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mc.admin(fx.mc.withData(new AdminCommands.Identify(AdminCommands.CNS_NAMESPACE, 0, 5, 0).toSqe(), b))))
                    .isEqualTo(INVALID_NS);
            assertThat(field(fx.mmc.admin(fx.mmc.withData(AdminCommands.GetLogPage.forBytes(0x80, 0, 512).toSqe(), b)))).isEqualTo(INVALID_LOG_PAGE);
            for (long offset : new long[]{Long.MIN_VALUE, -4, 2, 4096, 1L << 40}) {   // bit 63 set, unaligned, past the page
                Sqe log = new AdminCommands.GetLogPage(AdminCommands.LID_COMMANDS_SUPPORTED, 0, 127, 0).toSqe()
                        .withCdw12((int) offset).withCdw13((int) (offset >>> 32));
                assertThat(field(fx.mmc.admin(fx.mmc.withData(log, b)))).as("log page offset %x", offset).isEqualTo(INVALID_FIELD);
            }
            Sqe tail = new AdminCommands.GetLogPage(AdminCommands.LID_COMMANDS_SUPPORTED, 0, 1, 4 * 0x3d).toSqe();
            b.seg().fill((byte) 0);
            assertThat(field(fx.mmc.admin(fx.mmc.withData(tail, b)))).isZero();
            assertThat(b.seg().get(LittleEndian.U32, 0)).as("Track Send supported, read at an offset").isEqualTo(1);
            Sqe setFeatures = AdminCommands.setFeatures(AdminCommands.FID_NUMBER_OF_QUEUES, 0);
            assertThat(field(fx.mmc.admin(setFeatures.withCdw10(setFeatures.cdw10() | 1 << 31)))).isEqualTo(FEATURE_NOT_SAVEABLE);
            assertThat(field(fx.mmc.admin(AdminCommands.setFeatures(0x7e, 0)))).isEqualTo(INVALID_FIELD);
            // queues
            Sim.Buf q = fx.sim.alloc(4096);
            assertThat(field(fx.mc.admin(new AdminCommands.CreateIoCq(0, 15, true, true, 0, q.iova()).toSqe()))).isEqualTo(INVALID_QID);
            assertThat(field(fx.mc.admin(new AdminCommands.CreateIoCq(1, 15, true, true, 1, q.iova()).toSqe()))).as("exists").isEqualTo(INVALID_QID);
            assertThat(field(fx.mc.admin(new AdminCommands.CreateIoCq(5, 0, true, true, 5, q.iova()).toSqe()))).isEqualTo(INVALID_QSIZE);
            assertThat(field(fx.mc.admin(new AdminCommands.CreateIoCq(5, 1024, true, true, 5, q.iova()).toSqe()))).isEqualTo(INVALID_QSIZE);
            assertThat(field(fx.mc.admin(new AdminCommands.CreateIoCq(5, 15, true, true, 5, 0x1000).toSqe()))).isEqualTo(DATA_TRANSFER_ERROR);
            assertThat(field(fx.mc.admin(new AdminCommands.CreateIoSq(5, 15, true, 0, 9, q.iova()).toSqe()))).isEqualTo(CQ_INVALID);
            assertThat(field(fx.mc.admin(AdminCommands.deleteIoCq(1)))).as("SQ 1 still uses CQ 1").isEqualTo(INVALID_QUEUE_DELETION);
            assertThat(field(fx.mc.admin(AdminCommands.deleteIoSq(9)))).isEqualTo(INVALID_QID);
            // Get LBA Status
            Sqe lba = new GetLbaStatus.Command(1, 0, 1023, 0, GetLbaStatus.ATYPE_ALLOCATED).toSqe();
            assertThat(field(fx.mc.admin(fx.mc.withData(lba, b)))).isZero();
            assertThat(field(fx.mc.admin(fx.mc.withData(lba.withCdw13(0x10 << 24), b)))).as("ATYPE 10h").isEqualTo(INVALID_FIELD);
            assertThat(field(fx.mc.admin(fx.mc.withData(lba.withNsid(4), b)))).isEqualTo(INVALID_NS);
            assertThat(field(fx.mc.admin(fx.mc.withData(lba.withCdw10(8192), b)))).isEqualTo(LBA_RANGE);
            // four AERs may be outstanding (AERL 3), the fifth is refused
            for (int i = 0; i < 4; i++) fx.mmc.submit(0, AdminCommands.asyncEventRequest());
            assertThat(field(fx.mmc.admin(AdminCommands.asyncEventRequest()))).isEqualTo(AER_LIMIT);
            healthy(fx);
        }
    }
}
