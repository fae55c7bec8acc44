package dev.nvmelm.host.sim;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The control protocol between a {@code sim:} client and {@code nvme-lm device serve}, over a
 * Unix stream socket. It carries only commands and completions; data never travels on it, as
 * it never travels through an ioctl: buffers, queues and CDQ rings live in a file both sides
 * map, and the controller DMAs into it.
 *
 * <p>Frame: u32 length of what follows (little-endian), u8 type, u32 tag, then the fields of
 * the record in order. A frame longer than {@link #MAX_FRAME_BYTES}, an unknown type, or a
 * frame whose fields do not fill it exactly is a protocol error and closes the connection.
 */
public sealed interface SimMessage {
    int VERSION = 1;
    int MAX_FRAME_BYTES = 4096;
    int NO_CDQ = 0xffff;

    int tag();

    // client -> server
    record Hello(int tag, int version, int cntlid) implements SimMessage {}
    record Alloc(int tag, long sizeBytes) implements SimMessage {}
    record Free(int tag, long offset) implements SimMessage {}
    /** A passthrough command; the data buffer is [dataOffset, +dataLength) of the shared memory. */
    record Command(int tag, boolean io, byte[] sqe, long dataOffset, long dataLength) implements SimMessage {
        public Command {
            if (sqe.length != 64) throw new IllegalArgumentException("an SQE is 64 bytes, got " + sqe.length);
        }
    }
    record CdqCreate(int tag, int cntlid, long sizeBytes, boolean contiguous) implements SimMessage {}
    record CdqAttach(int tag, int cdqid) implements SimMessage {}
    /** Lets go of a CDQ: delete it, or keep it on the server with the reader's cursor. */
    record CdqRelease(int tag, int cdqid, boolean keep, int head, boolean stalePhase) implements SimMessage {}
    /**
     * The VMM's switchover step, which the server plays for its own drivers: the queues of
     * controller {@code from} (and every client using them) continue on controller {@code to},
     * which received their state and is not yet resumed.
     */
    record Handover(int tag, int fromCntlid, int toCntlid) implements SimMessage {}
    /**
     * The VMM's guest quiesce around a move of controller {@code cntlid} to another host (the
     * server plays it for its own driver of that controller): hold new guest I/O and wait for
     * what is in flight, before the Suspend; release the held I/O after an abort (the controller
     * resumed); or detach after the destination committed, {@code destination} naming it.
     */
    record Gate(int tag, int cntlid, GateStep step, String destination) implements SimMessage {}

    /** What a {@link Gate} asks for. */
    enum GateStep { QUIESCE, RELEASE, DETACH }

    // server -> client
    /**
     * {@code namespacesPerController}: how the MMC's shared NSIDs map to the MCs' own (MC C's
     * NSID n is shared NSID (C-1)*N+n), so a migration host can read a suspended MC's data.
     */
    record Welcome(int tag, int version, int cntlid, long memorySizeBytes, int namespacesPerController, String memoryPath) implements SimMessage {}
    record Allocated(int tag, long offset) implements SimMessage {}
    /** A completion: CQE DW0, DW1 and the 15-bit status field. */
    record Done(int tag, int dw0, int dw1, int statusField) implements SimMessage {}
    record CdqInfo(int tag, int cdqid, int cntlid, int entryCount, long ringOffset, int head, boolean stalePhase) implements SimMessage {}
    /** An asynchronous event: for a CDQ (cdqid) or, with NO_CDQ, any other. */
    record Event(int tag, int cdqid, int dw0, int dw1) implements SimMessage {}
    record Failed(int tag, String message) implements SimMessage {}

    private static int type(SimMessage m) {
        return switch (m) {
            case Hello h -> 1;
            case Alloc a -> 2;
            case Free f -> 3;
            case Command c -> 4;
            case CdqCreate c -> 5;
            case CdqAttach c -> 6;
            case CdqRelease c -> 7;
            case Handover h -> 8;
            case Gate g -> 9;
            case Welcome w -> 64;
            case Allocated a -> 65;
            case Done d -> 66;
            case CdqInfo i -> 67;
            case Event e -> 68;
            case Failed f -> 69;
        };
    }

    /** The whole frame, length prefix included. */
    static ByteBuffer encode(SimMessage m) {
        ByteBuffer b = ByteBuffer.allocate(MAX_FRAME_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0).put((byte) type(m)).putInt(m.tag());
        switch (m) {
            case Hello h -> b.putShort((short) h.version()).putShort((short) h.cntlid());
            case Alloc a -> b.putLong(a.sizeBytes());
            case Free f -> b.putLong(f.offset());
            case Command c -> b.put((byte) (c.io() ? 1 : 0)).put(c.sqe()).putLong(c.dataOffset()).putLong(c.dataLength());
            case CdqCreate c -> b.putShort((short) c.cntlid()).putLong(c.sizeBytes()).put((byte) (c.contiguous() ? 1 : 0));
            case CdqAttach c -> b.putShort((short) c.cdqid());
            case CdqRelease c -> b.putShort((short) c.cdqid()).put((byte) (c.keep() ? 1 : 0)).putInt(c.head()).put((byte) (c.stalePhase() ? 1 : 0));
            case Handover h -> b.putShort((short) h.fromCntlid()).putShort((short) h.toCntlid());
            case Gate g -> putString(b.putShort((short) g.cntlid()).put((byte) g.step().ordinal()), g.destination());
            case Welcome w -> putString(b.putShort((short) w.version()).putShort((short) w.cntlid()).putLong(w.memorySizeBytes())
                    .putShort((short) w.namespacesPerController()), w.memoryPath());
            case Allocated a -> b.putLong(a.offset());
            case Done d -> b.putInt(d.dw0()).putInt(d.dw1()).putShort((short) d.statusField());
            case CdqInfo i -> b.putShort((short) i.cdqid()).putShort((short) i.cntlid()).putInt(i.entryCount()).putLong(i.ringOffset())
                    .putInt(i.head()).put((byte) (i.stalePhase() ? 1 : 0));
            case Event e -> b.putShort((short) e.cdqid()).putInt(e.dw0()).putInt(e.dw1());
            case Failed f -> putString(b, f.message());
        }
        b.putInt(0, b.position() - 4);
        return b.flip();
    }

    private static ByteBuffer putString(ByteBuffer b, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(bytes.length, MAX_FRAME_BYTES - 64);
        return b.putShort((short) n).put(bytes, 0, n);
    }

    private static String getString(ByteBuffer b) {
        int n = Short.toUnsignedInt(b.getShort());
        byte[] bytes = new byte[n];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** Decodes one frame body (after the length prefix). */
    static SimMessage decode(ByteBuffer body) throws SimProtocolException {
        ByteBuffer b = body.order(ByteOrder.LITTLE_ENDIAN);
        try {
            int type = Byte.toUnsignedInt(b.get());
            int tag = b.getInt();
            SimMessage m = switch (type) {
                case 1 -> new Hello(tag, u16(b), u16(b));
                case 2 -> new Alloc(tag, b.getLong());
                case 3 -> new Free(tag, b.getLong());
                case 4 -> {
                    boolean io = flag(b);
                    byte[] sqe = new byte[64];
                    b.get(sqe);
                    yield new Command(tag, io, sqe, b.getLong(), b.getLong());
                }
                case 5 -> new CdqCreate(tag, u16(b), b.getLong(), flag(b));
                case 6 -> new CdqAttach(tag, u16(b));
                case 7 -> new CdqRelease(tag, u16(b), flag(b), b.getInt(), flag(b));
                case 8 -> new Handover(tag, u16(b), u16(b));
                case 9 -> new Gate(tag, u16(b), gateStep(b), getString(b));
                case 64 -> new Welcome(tag, u16(b), u16(b), b.getLong(), u16(b), getString(b));
                case 65 -> new Allocated(tag, b.getLong());
                case 66 -> new Done(tag, b.getInt(), b.getInt(), u16(b));
                case 67 -> new CdqInfo(tag, u16(b), u16(b), b.getInt(), b.getLong(), b.getInt(), flag(b));
                case 68 -> new Event(tag, u16(b), b.getInt(), b.getInt());
                case 69 -> new Failed(tag, getString(b));
                default -> throw new SimProtocolException("unknown message type " + type);
            };
            if (b.hasRemaining()) throw new SimProtocolException("message type " + type + " has " + b.remaining() + " trailing bytes");
            return m;
        } catch (java.nio.BufferUnderflowException e) {
            throw new SimProtocolException("truncated message");
        }
    }

    private static GateStep gateStep(ByteBuffer b) throws SimProtocolException {
        int v = b.get();
        if (v < 0 || v >= GateStep.values().length) throw new SimProtocolException("gate step " + v + " is not 0, 1 or 2");
        return GateStep.values()[v];
    }

    private static int u16(ByteBuffer b) {
        return Short.toUnsignedInt(b.getShort());
    }

    private static boolean flag(ByteBuffer b) throws SimProtocolException {
        int v = b.get();
        if (v != 0 && v != 1) throw new SimProtocolException("flag byte is " + v + ", not 0 or 1");
        return v == 1;
    }
}
