package dev.nvmelm.spec;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * For every structure: decode(encode(x)) == x; encoders leave reserved bits zero (checked by
 * masks of the defined fields); values that do not fit are rejected; decoders reject reserved bits.
 */
class SpecPropertiesTest {

    static void onlyDefinedBits(Sqe s, int cdw10, int cdw11, int cdw12, int cdw13, int cdw14, int cdw15) {
        assertThat(s.cdw10() & ~cdw10).as("CDW10 reserved bits").isZero();
        assertThat(s.cdw11() & ~cdw11).as("CDW11 reserved bits").isZero();
        assertThat(s.cdw12() & ~cdw12).as("CDW12 reserved bits").isZero();
        assertThat(s.cdw13() & ~cdw13).as("CDW13 reserved bits").isZero();
        assertThat(s.cdw14() & ~cdw14).as("CDW14 reserved bits").isZero();
        assertThat(s.cdw15() & ~cdw15).as("CDW15 reserved bits").isZero();
        assertThat(s.cdw2() | s.cdw3()).isZero();
    }

    @Property
    void cdqCreate(@ForAll @IntRange(max = 255) int qt, @ForAll boolean pc, @ForAll @IntRange(max = 0xffff) int cntlid,
                   @ForAll @LongRange(max = 0xffffffffL) long dwords, @ForAll long prp1) {
        var c = new ControllerDataQueueCommand.Create(qt, pc, cntlid, dwords, prp1);
        Sqe s = c.toSqe();
        onlyDefinedBits(s, 0x00ff00ff, 0xffff0001, -1, 0, 0, 0);
        assertThat(ControllerDataQueueCommand.decode(Sqe.fromBytes(s.toBytes()))).isEqualTo(c);
    }

    @Property
    void cdqDelete(@ForAll @IntRange(max = 0xffff) int cdqid) {
        var d = new ControllerDataQueueCommand.Delete(cdqid);
        onlyDefinedBits(d.toSqe(), 0xff, 0xffff, 0, 0, 0, 0);
        assertThat(ControllerDataQueueCommand.decode(d.toSqe())).isEqualTo(d);
    }

    @Property
    void trackSend(@ForAll @IntRange(max = 255) int sel, @ForAll @IntRange(max = 15) int lact, @ForAll @IntRange(max = 0xffff) int cdqid) {
        var t = new TrackSendCommand(sel, lact, cdqid);
        onlyDefinedBits(t.toSqe(), 0x000f00ff, 0xffff, 0, 0, 0, 0);
        assertThat(TrackSendCommand.decode(t.toSqe())).isEqualTo(t);
    }

    @Property
    void suspendAndResume(@ForAll @IntRange(max = 0xffff) int cntlid, @ForAll @IntRange(max = 255) int stype, @ForAll boolean dudmq,
                          @ForAll @IntRange(max = 127) int uidx) {
        var s = new MigrationSendCommand.Suspend(cntlid, stype, dudmq, uidx);
        onlyDefinedBits(s.toSqe(), 0xff, 0x80ffffff, 0, 0, 0x7f, 0);
        assertThat(MigrationSendCommand.decode(s.toSqe())).isEqualTo(s);
        var r = new MigrationSendCommand.Resume(cntlid, uidx);
        onlyDefinedBits(r.toSqe(), 0xff, 0xffff, 0, 0, 0x7f, 0);
        assertThat(MigrationSendCommand.decode(r.toSqe())).isEqualTo(r);
    }

    @Property
    void setControllerState(@ForAll @IntRange(max = 0xffff) int cntlid, @ForAll @IntRange(max = 3) int seq, @ForAll @IntRange(max = 255) int csvi,
                            @ForAll @IntRange(max = 255) int csuuidi, @ForAll @LongRange(max = Long.MAX_VALUE) long offset,
                            @ForAll @IntRange(max = 127) int uidx, @ForAll int numd) {
        var c = new MigrationSendCommand.SetControllerState(cntlid, seq, csvi, csuuidi, offset, uidx, numd);
        onlyDefinedBits(c.toSqe(), 0x000300ff, -1, -1, -1, 0x7f, -1);
        assertThat(MigrationSendCommand.decode(c.toSqe())).isEqualTo(c);
    }

    @Property
    void getControllerState(@ForAll @IntRange(max = 0xffff) int cntlid, @ForAll @IntRange(max = 255) int csvi, @ForAll @IntRange(max = 255) int csuuidi,
                            @ForAll @IntRange(max = 255) int csuidxp, @ForAll @LongRange(max = Long.MAX_VALUE) long offset,
                            @ForAll @IntRange(max = 127) int uidx, @ForAll int numd) {
        var c = new MigrationReceiveCommand(cntlid, csvi, csuuidi, csuidxp, offset, uidx, numd);
        onlyDefinedBits(c.toSqe(), 0x00ff00ff, -1, -1, -1, 0x7f, -1);
        assertThat(MigrationReceiveCommand.decode(c.toSqe())).isEqualTo(c);
    }

    @Property
    void cdqFeatures(@ForAll @IntRange(max = 0xffff) int cdqid, @ForAll int hp, @ForAll boolean etpt, @ForAll int tpt) {
        var s = new CdqFeature.SetCdq(cdqid, hp, etpt, etpt ? tpt : 0);
        onlyDefinedBits(s.toSqe(), 0xff, 0x8000ffff, -1, -1, 0, 0);
        assertThat(CdqFeature.SetCdq.decode(s.toSqe())).isEqualTo(s);
        assertThat(CdqFeature.GetCdq.decode(new CdqFeature.GetCdq(cdqid).toSqe())).isEqualTo(new CdqFeature.GetCdq(cdqid));
        MemorySegment m = MemorySegment.ofArray(new byte[CdqFeature.CdqFeatureData.SIZE]);
        new CdqFeature.CdqFeatureData(hp, tpt).encode(m, 0);
        assertThat(CdqFeature.CdqFeatureData.decode(m, 0)).isEqualTo(new CdqFeature.CdqFeatureData(hp, tpt));
    }

    @Property
    void lbaMigrationEntry(@ForAll int nsid, @ForAll @LongRange(max = 0xffffffffL) long nlb, @ForAll long slba, @ForAll boolean phase,
                           @ForAll @IntRange(max = 7) int esa, @ForAll boolean dlba, @ForAll @IntRange(max = 3) int lbaci) {
        var e = new LbaMigrationEntry(nsid, nlb, slba, phase, esa, dlba, lbaci);
        MemorySegment m = MemorySegment.ofArray(new byte[32]);
        m.fill((byte) 0x5a);   // garbage underneath: the encoder must clear reserved bytes
        e.encode(m, 0);
        assertThat(LbaMigrationEntry.reservedBitsSet(m, 0)).isFalse();
        assertThat(LbaMigrationEntry.decode(m, 0)).isEqualTo(e);
        assertThat(LbaMigrationEntry.phaseAt(m, 0)).isEqualTo(phase);
        m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 20, (byte) 1);
        assertThat(LbaMigrationEntry.reservedBitsSet(m, 0)).isTrue();
    }

    @Provide
    Arbitrary<IoSqState> sqs() {
        return Combinators.combine(Arbitraries.longs(), Arbitraries.integers().between(0, 0xffff), Arbitraries.integers().between(0, 0xffff),
                Arbitraries.integers().between(0, 0xffff), Arbitraries.of(true, false), Arbitraries.integers().between(0, 3),
                Arbitraries.integers().between(0, 0xffff), Arbitraries.integers().between(0, 0xffff)).as(IoSqState::new);
    }

    @Provide
    Arbitrary<IoCqState> cqs() {
        return Combinators.combine(Arbitraries.longs(), Arbitraries.integers().between(0, 0xffff), Arbitraries.integers().between(0, 0xffff),
                Arbitraries.integers().between(0, 0xffff), Arbitraries.integers().between(0, 0xffff), Arbitraries.of(true, false),
                Arbitraries.of(true, false), Arbitraries.of(true, false)).as((p, q, id, h, t, pc, ien, ph) -> new IoCqState(p, q, id, h, t, pc, ien, ph, id & 0xff));
    }

    @Property(tries = 300)
    void controllerState(@ForAll @Size(max = 16) List<@net.jqwik.api.From("sqs") IoSqState> sq, @ForAll @Size(max = 16) List<@net.jqwik.api.From("cqs") IoCqState> cq,
                         @ForAll boolean suspended, @ForAll @Size(max = 8) List<Byte> vendorDwordsSeed) {
        byte[] vs = new byte[vendorDwordsSeed.size() * 4];
        for (int i = 0; i < vendorDwordsSeed.size(); i++) vs[4 * i] = vendorDwordsSeed.get(i);
        var s = new ControllerState(0, suspended, 0, sq, cq, vs);
        byte[] b = s.encode();
        assertThat(b).hasSize(s.totalBytes());
        for (int i = 3; i < 16; i++) assertThat(b[i]).isZero();
        assertThat(ControllerState.decode(b)).isEqualTo(s);
        assertThatThrownBy(() -> ControllerState.decode(java.util.Arrays.copyOf(b, b.length - 4))).hasMessageContaining("truncated");
    }

    @Property
    void asyncEvent(@ForAll @IntRange(max = 7) int aet, @ForAll @IntRange(max = 255) int aei, @ForAll @IntRange(max = 255) int lid, @ForAll int dw1) {
        var e = new AsyncEvent(aet, aei, lid, dw1);
        assertThat(e.dw0() & ~0x00ffff07).isZero();
        assertThat(AsyncEvent.decode(e.dw0(), e.dw1())).isEqualTo(e);
    }

    @Property
    void createIoQueues(@ForAll @IntRange(max = 0xffff) int qid, @ForAll @IntRange(max = 0xffff) int qsize, @ForAll boolean pc,
                        @ForAll boolean ien, @ForAll @IntRange(max = 0xffff) int iv, @ForAll @IntRange(max = 3) int qprio, @ForAll long prp1) {
        var cq = new AdminCommands.CreateIoCq(qid, qsize, pc, ien, iv, prp1);
        onlyDefinedBits(cq.toSqe(), -1, 0xffff0003, 0, 0, 0, 0);
        assertThat(AdminCommands.CreateIoCq.decode(cq.toSqe())).isEqualTo(cq);
        var sq = new AdminCommands.CreateIoSq(qid, qsize, pc, qprio, iv, prp1);
        onlyDefinedBits(sq.toSqe(), -1, 0xffff0007, 0, 0, 0, 0);
        assertThat(AdminCommands.CreateIoSq.decode(sq.toSqe())).isEqualTo(sq);
    }

    @Property
    void ioCommands(@ForAll int nsid, @ForAll long slba, @ForAll @IntRange(max = 0xffff) int nlb, @ForAll boolean flag) {
        var w = new IoCommands.ReadWrite(IoOpcode.WRITE, nsid, slba, nlb, flag);
        onlyDefinedBits(w.toSqe(), -1, -1, 0x4000ffff, 0, 0, 0);
        assertThat(IoCommands.ReadWrite.decode(w.toSqe())).isEqualTo(w);
        var z = new IoCommands.WriteZeroes(nsid, slba, nlb, flag);
        onlyDefinedBits(z.toSqe(), -1, -1, 0x0200ffff, 0, 0, 0);
        assertThat(IoCommands.WriteZeroes.decode(z.toSqe())).isEqualTo(z);
    }

    @Property
    void getLbaStatus(@ForAll @Size(max = 20) List<@LongRange(min = 1, max = 1L << 32) Long> lengths, @ForAll boolean complete) {
        List<GetLbaStatus.Descriptor> ds = new java.util.ArrayList<>();
        long at = 0;
        for (long l : lengths) {
            ds.add(new GetLbaStatus.Descriptor(at, l));
            at += l + 7;
        }
        var r = new GetLbaStatus.Reply(complete, ds);
        MemorySegment m = MemorySegment.ofArray(new byte[8 + 16 * ds.size()]);
        r.encode(m);
        assertThat(GetLbaStatus.Reply.decode(m, m.byteSize())).isEqualTo(r);
        if (!ds.isEmpty()) assertThatThrownBy(() -> GetLbaStatus.Reply.decode(m, m.byteSize() - 16)).hasMessageContaining("claims");
    }

    @Property
    void outOfRangeIsRejectedNeverTruncated(@ForAll @IntRange(min = 0x10000, max = Integer.MAX_VALUE) int big) {
        assertThatThrownBy(() -> new ControllerDataQueueCommand.Create(0, true, big, 8, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ControllerDataQueueCommand.Delete(big)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new TrackSendCommand(0, 16, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MigrationSendCommand.Suspend(1, 256, false, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MigrationSendCommand.SetControllerState(1, 4, 1, 0, 0, 0, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MigrationSendCommand.Resume(big, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MigrationReceiveCommand(1, 256, 0, 0, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LbaMigrationEntry(1, 1L << 32, 0, true, 0, false, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new IoCommands.ReadWrite(IoOpcode.READ, 1, 0, big, false)).isInstanceOf(IllegalArgumentException.class);
    }

    @Property
    void decodersRejectReservedBits(@ForAll @IntRange(min = 1, max = 31) int bit) {
        Sqe track = TrackSendCommand.start(1).toSqe();
        int reserved10 = 0x0000ff00 | 0xfff00000;
        if ((reserved10 & (1 << bit)) != 0) {
            assertThatThrownBy(() -> TrackSendCommand.decode(track.withCdw10(track.cdw10() | 1 << bit))).hasMessageContaining("reserved");
        }
        Sqe resume = new MigrationSendCommand.Resume(1, 0).toSqe();
        if (bit >= 16) assertThatThrownBy(() -> MigrationSendCommand.decode(resume.withCdw11(resume.cdw11() | 1 << bit))).hasMessageContaining("reserved");
        assertThatThrownBy(() -> ControllerDataQueueCommand.decode(new ControllerDataQueueCommand.Delete(1).toSqe().withCdw10(2)))
                .hasMessageContaining("SEL 2");
    }
}
