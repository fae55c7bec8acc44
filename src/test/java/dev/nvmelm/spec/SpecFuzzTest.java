package dev.nvmelm.spec;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nvmelm.fuzz.BytesProvider;
import dev.nvmelm.spec.bus.DmaFault;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

import static dev.nvmelm.fuzz.Fuzz.check;
import static dev.nvmelm.fuzz.Fuzz.declared;
import static dev.nvmelm.fuzz.Fuzz.fixed;

/**
 * Jazzer targets for every codec in {@code spec} (docs/testing.md, "Fuzzing"). The declared
 * error of a spec decoder is IllegalArgumentException (a reserved bit, an undefined SEL, a
 * field that does not fit, an inconsistent size); a PRP walk may also end in a DmaFault. A
 * decoded value must encode back to what decodes to the same value.
 */
public class SpecFuzzTest {

    /** Every SQE decoder, fed the same 64 bytes: an error, or a command whose SQE decodes to it again. */
    @FuzzTest(maxDuration = "2s")
    void sqeCommands(byte[] input) throws Exception {
        sqeCommandsOnce(input);
    }

    /** A 16-byte CQE: decode, encode gives the same bytes; its status prints. */
    @FuzzTest(maxDuration = "2s")
    void cqe(byte[] input) throws Exception {
        cqeOnce(input);
    }

    /** The Get/Set Controller State payload (header, SQ/CQ state entries, vendor bytes). */
    @FuzzTest(maxDuration = "2s")
    void controllerState(byte[] input) throws Exception {
        controllerStateOnce(input);
    }

    /** Identify Controller, Identify Namespace, the NVM Identify Controller and CNS 20h in a 4 KiB buffer. */
    @FuzzTest(maxDuration = "2s")
    void identify(byte[] input) throws Exception {
        identifyOnce(input);
    }

    /** A 32-byte LBA Migration Queue entry, the Get Features FID 21h data, DSM/Copy ranges and Get LBA Status replies. */
    @FuzzTest(maxDuration = "2s")
    void dataStructures(byte[] input) throws Exception {
        dataStructuresOnce(input);
    }

    /** PRP1/PRP2 and PRP lists in hostile memory, walked as the controller walks them. */
    @FuzzTest(maxDuration = "2s")
    void prp(byte[] input) throws Exception {
        prpOnce(input);
    }

    public static void sqeCommandsOnce(byte[] input) throws Exception {
        byte[] b = fixed(input, Sqe.SIZE);
        Sqe s = Sqe.fromBytes(b);
        check(Arrays.equals(s.toBytes(), b), "SQE does not encode back to its bytes");
        for (int n = 0; n < 16; n++) s.cdw(n);
        roundTrip(s, TrackSendCommand::decode, TrackSendCommand::toSqe);
        roundTrip(s, MigrationSendCommand::decode, MigrationSendCommand::toSqe);
        roundTrip(s, MigrationReceiveCommand::decode, MigrationReceiveCommand::toSqe);
        roundTrip(s, ControllerDataQueueCommand::decode, ControllerDataQueueCommand::toSqe);
        roundTrip(s, CdqFeature.SetCdq::decode, CdqFeature.SetCdq::toSqe);
        roundTrip(s, CdqFeature.GetCdq::decode, CdqFeature.GetCdq::toSqe);
        roundTrip(s, AdminCommands.Identify::decode, AdminCommands.Identify::toSqe);
        roundTrip(s, AdminCommands.CreateIoCq::decode, AdminCommands.CreateIoCq::toSqe);
        roundTrip(s, AdminCommands.CreateIoSq::decode, AdminCommands.CreateIoSq::toSqe);
        roundTrip(s, AdminCommands.GetLogPage::decode, AdminCommands.GetLogPage::toSqe);
        roundTrip(s, AdminCommands.FormatNvm::decode, AdminCommands.FormatNvm::toSqe);
        roundTrip(s, AdminCommands.Sanitize::decode, AdminCommands.Sanitize::toSqe);
        roundTrip(s, IoCommands.ReadWrite::decode, IoCommands.ReadWrite::toSqe);
        roundTrip(s, IoCommands.WriteZeroes::decode, IoCommands.WriteZeroes::toSqe);
        roundTrip(s, IoCommands.DatasetManagement::decode, IoCommands.DatasetManagement::toSqe);
        roundTrip(s, IoCommands.Copy::decode, IoCommands.Copy::toSqe);
        roundTrip(s, GetLbaStatus.Command::decode, GetLbaStatus.Command::toSqe);
        declared(() -> {
            var m = MigrationSendCommand.decode(s);
            if (m instanceof MigrationSendCommand.SetControllerState c) check(c.lengthBytes() >= 0, "negative Set Controller State length");
        }, IllegalArgumentException.class);
        declared(() -> check(MigrationReceiveCommand.decode(s).lengthBytes() > 0, "Get Controller State of no bytes"), IllegalArgumentException.class);
    }

    private static <T> void roundTrip(Sqe s, Function<Sqe, T> decode, Function<T, Sqe> encode) throws Exception {
        declared(() -> {
            T first = decode.apply(s);
            T again = decode.apply(encode.apply(first));
            check(Objects.equals(first, again), first + " re-encoded decodes to " + again);
        }, IllegalArgumentException.class);
    }

    public static void cqeOnce(byte[] input) throws Exception {
        byte[] b = fixed(input, Cqe.SIZE);
        Cqe c = Cqe.decode(MemorySegment.ofArray(b), 0);
        byte[] out = new byte[Cqe.SIZE];
        c.encode(MemorySegment.ofArray(out), 0);
        check(Arrays.equals(out, b), "CQE does not encode back to its bytes");
        check(Cqe.phaseAt(MemorySegment.ofArray(b), 0) == c.phase(), "phase tag read two ways differs");
        Objects.requireNonNull(c.status().toNvmeCliString());
        Objects.requireNonNull(c.status().toString());
        AsyncEvent e = AsyncEvent.decode(c.dw0(), c.dw1());
        check(AsyncEvent.decode(e.dw0(), e.dw1()).equals(e), "async event does not round-trip");
    }

    public static void controllerStateOnce(byte[] input) throws Exception {
        declared(() -> {
            ControllerState s = ControllerState.decode(input);
            byte[] enc = s.encode();
            check(ControllerState.Header.decode(enc).totalBytes() == enc.length, "header size disagrees with the encoding");
            check(ControllerState.decode(enc).equals(s), "controller state does not round-trip");
        }, IllegalArgumentException.class);
    }

    public static void identifyOnce(byte[] input) throws Exception {
        MemorySegment m = MemorySegment.ofArray(fixed(input, IdentifyController.SIZE));
        IdentifyController.decode(m);
        IdentifyControllerNvm.decode(m);
        declared(() -> {
            IdentifyNamespace ns = IdentifyNamespace.decode(m);
            // a block size is a power of two no smaller than 512 bytes (NVM Command Set 1.1, LBADS)
            check(ns.nsze() == 0 || ns.lbaSizeBytes() >= 512 && Integer.bitCount(ns.lbaSizeBytes()) == 1
                    && ns.lbaSizeBytes() == 1 << ns.lbaDataSizeShift() && ns.lbaDataSizeShift() < 31,
                    "LBADS " + ns.lbaDataSizeShift() + " gives a block size of " + ns.lbaSizeBytes() + " bytes");
            check(IdentifyNamespace.decode(MemorySegment.ofArray(ns.encode())).equals(ns), "Identify Namespace does not round-trip");
        }, IllegalArgumentException.class);
        declared(() -> {
            SupportedControllerStateFormats f = SupportedControllerStateFormats.decode(m);
            check(SupportedControllerStateFormats.decode(MemorySegment.ofArray(fixed(f.encode(), IdentifyController.SIZE))).equals(f),
                    "controller state formats do not round-trip");
            f.versionForCsvi(input.length > 0 ? input[0] & 0xff : 0);
        }, IllegalArgumentException.class);
    }

    public static void dataStructuresOnce(byte[] input) throws Exception {
        BytesProvider d = new BytesProvider(input);
        byte[] entry = fixed(d.consumeBytes(LbaMigrationEntry.SIZE), LbaMigrationEntry.SIZE);
        MemorySegment em = MemorySegment.ofArray(entry);
        LbaMigrationEntry e = LbaMigrationEntry.decode(em, 0);
        check(LbaMigrationEntry.phaseAt(em, 0) == e.phase(), "phase tag read two ways differs");
        e.blockCount();
        if (!LbaMigrationEntry.reservedBitsSet(em, 0)) {
            byte[] out = new byte[LbaMigrationEntry.SIZE];
            e.encode(MemorySegment.ofArray(out), 0);
            check(Arrays.equals(out, entry), "LBA migration entry does not encode back to its bytes");
        }
        MemorySegment fd = MemorySegment.ofArray(fixed(d.consumeBytes(CdqFeature.CdqFeatureData.SIZE), CdqFeature.CdqFeatureData.SIZE));
        CdqFeature.CdqFeatureData f = CdqFeature.CdqFeatureData.decode(fd, 0);
        MemorySegment fo = MemorySegment.ofArray(new byte[CdqFeature.CdqFeatureData.SIZE]);
        f.encode(fo, 0);
        check(CdqFeature.CdqFeatureData.decode(fo, 0).equals(f), "CDQ feature data does not round-trip");

        int count = d.consumeInt(1, 256);     // NR is 8 bits, 0's based
        MemorySegment ranges = MemorySegment.ofArray(fixed(d.consumeBytes(count * 32), count * 32));
        List<IoCommands.DsmRange> dsm = IoCommands.decodeRanges(ranges, Math.min(count, 256));
        MemorySegment dsmOut = MemorySegment.ofArray(new byte[count * IoCommands.DsmRange.SIZE]);
        IoCommands.encodeRanges(dsm, dsmOut);
        check(IoCommands.decodeRanges(dsmOut, count).equals(dsm), "DSM ranges do not round-trip");
        List<IoCommands.CopyRange> copy = IoCommands.decodeCopyRanges(ranges, count);
        MemorySegment copyOut = MemorySegment.ofArray(new byte[count * IoCommands.CopyRange.SIZE]);
        IoCommands.encodeCopyRanges(copy, copyOut);
        check(IoCommands.decodeCopyRanges(copyOut, count).equals(copy), "Copy ranges do not round-trip");

        long replyBytes = d.consumeLong(0, 1 << 16);
        byte[] reply = fixed(d.consumeRemainingAsBytes(), (int) Math.max(replyBytes, GetLbaStatus.HEADER));
        declared(() -> {
            GetLbaStatus.Reply r = GetLbaStatus.Reply.decode(MemorySegment.ofArray(reply), replyBytes);
            byte[] out = new byte[GetLbaStatus.HEADER + GetLbaStatus.DESCRIPTOR * r.descriptors().size()];
            r.encode(MemorySegment.ofArray(out));
            check(GetLbaStatus.Reply.decode(MemorySegment.ofArray(out), out.length).equals(r), "LBA status reply does not round-trip");
        }, IllegalArgumentException.class);
    }

    /** IOVA space [BASE, BASE + 1 MiB) whose bytes the input fills: PRP list pages are hostile. */
    private static final long BASE = 0x100000;
    private static final MemorySegment PRP_MEMORY = Arena.global().allocate(1 << 20, 4096);

    public static void prpOnce(byte[] input) throws Exception {
        BytesProvider d = new BytesProvider(input);
        int pageSize = 4096 << d.consumeInt(0, 4);
        long prp1 = d.consumeBoolean() ? BASE + d.consumeLong(0, (1 << 20) - 1) : d.consumeLong();
        long prp2 = d.consumeBoolean() ? BASE + d.consumeLong(0, (1 << 20) - 1) : d.consumeLong();
        long length = d.consumeLong(0, 64L << 20);
        PRP_MEMORY.fill((byte) 0);
        byte[] contents = d.consumeRemainingAsBytes();
        MemorySegment.copy(MemorySegment.ofArray(contents), 0, PRP_MEMORY, 0, Math.min(contents.length, PRP_MEMORY.byteSize()));
        var memory = (dev.nvmelm.spec.bus.DmaMemory) (iova, len) -> {
            if (iova < BASE || len < 0 || iova - BASE > PRP_MEMORY.byteSize() - len) throw new DmaFault("IOVA 0x" + Long.toHexString(iova) + " is not mapped");
            return PRP_MEMORY.asSlice(iova - BASE, len);
        };
        declared(() -> {
            List<Prp.Segment> segs = Prp.walk(prp1, prp2, length, pageSize, memory);
            long total = 0;
            for (Prp.Segment s : segs) {
                check(s.length() > 0 && s.length() <= pageSize, "PRP segment of " + s.length() + " bytes");
                check(s == segs.getFirst() || (s.iova() & (pageSize - 1)) == 0, "a PRP segment after the first has a page offset");
                total += s.length();
            }
            check(total == length, "PRP segments cover " + total + " of " + length + " bytes");
        }, IllegalArgumentException.class, DmaFault.class);
    }
}
