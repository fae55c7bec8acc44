package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Get/Set Controller State payload (NVMe Base 2.1, Figures 358-361; docs/spec.md, "Controller state"): a 48-byte header, the NVMe Controller
 * State (version 0), then vendor-specific bytes.
 * <pre>
 * header  1:0 VER, 2 CSATTR (bit 0 suspended), 15:3 reserved,
 *         31:16 NVMECSS (dwords, 128-bit LE), 47:32 VSS (dwords, 128-bit LE)
 * state   1:0 VER, 3:2 NIOSQ, 5:4 NIOCQ, 7:6 reserved, then NIOSQ x 24 B SQ entries, NIOCQ x 24 B CQ entries
 * </pre>
 */
public record ControllerState(int version, boolean suspended, int stateVersion, List<IoSqState> sqs,
                              List<IoCqState> cqs, byte[] vendorSpecific) {
    public static final int HEADER_BYTES = Disagreements.CONTROLLER_STATE_HEADER_BYTES;
    public static final int CSATTR_SUSPENDED = 1;

    public ControllerState {
        Fields.unsigned("VER", version, 16);
        Fields.unsigned("NVMe controller state VER", stateVersion, 16);
        Fields.unsigned("NIOSQ", sqs.size(), 16);
        Fields.unsigned("NIOCQ", cqs.size(), 16);
        if (vendorSpecific.length % 4 != 0) throw new IllegalArgumentException("vendor-specific state must be whole dwords");
        sqs = List.copyOf(sqs);
        cqs = List.copyOf(cqs);
        vendorSpecific = vendorSpecific.clone();
    }

    /** Size of the version-0 NVMe Controller State: 8 + 24 * (NIOSQ + NIOCQ). */
    public int nvmeStateBytes() {
        return 8 + IoSqState.SIZE * (sqs.size() + cqs.size());
    }

    public int totalBytes() {
        return HEADER_BYTES + nvmeStateBytes() + vendorSpecific.length;
    }

    public byte[] encode() {
        byte[] out = new byte[totalBytes()];
        MemorySegment m = MemorySegment.ofArray(out);
        m.set(Sqe.LE_SHORT, 0, (short) version);
        m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 2, (byte) (suspended ? CSATTR_SUSPENDED : 0));
        m.set(Sqe.LE_LONG, 16, nvmeStateBytes() / 4);
        m.set(Sqe.LE_LONG, 32, vendorSpecific.length / 4);
        long off = HEADER_BYTES;
        m.set(Sqe.LE_SHORT, off, (short) stateVersion);
        m.set(Sqe.LE_SHORT, off + 2, (short) sqs.size());
        m.set(Sqe.LE_SHORT, off + 4, (short) cqs.size());
        off += 8;
        for (IoSqState s : sqs) { s.encode(m, off); off += IoSqState.SIZE; }
        for (IoCqState c : cqs) { c.encode(m, off); off += IoCqState.SIZE; }
        System.arraycopy(vendorSpecific, 0, out, (int) off, vendorSpecific.length);
        return out;
    }

    /** The header alone: enough to learn the total size before reading the rest. */
    public record Header(int version, boolean suspended, long nvmeStateDwords, long vendorSpecificDwords) {
        public long totalBytes() {
            return HEADER_BYTES + (nvmeStateDwords + vendorSpecificDwords) * 4;
        }

        public static Header decode(byte[] b) {
            if (b.length < HEADER_BYTES) throw new IllegalArgumentException("controller state header needs 48 bytes, got " + b.length);
            MemorySegment m = MemorySegment.ofArray(b);
            int csattr = Byte.toUnsignedInt(b[2]);
            Fields.reservedZero("CSATTR[7:1]", csattr, 0xfe);
            for (int i = 3; i < 16; i++) if (b[i] != 0) throw new IllegalArgumentException("controller state header byte " + i + " is reserved");
            long cssHigh = m.get(Sqe.LE_LONG, 24), vssHigh = m.get(Sqe.LE_LONG, 40);
            long css = m.get(Sqe.LE_LONG, 16), vss = m.get(Sqe.LE_LONG, 32);
            if (cssHigh != 0 || vssHigh != 0 || css < 0 || vss < 0 || css > 1L << 40 || vss > 1L << 40) {
                throw new IllegalArgumentException("controller state sizes are implausibly large (NVMECSS " + css + ", VSS " + vss + " dwords)");
            }
            return new Header(Short.toUnsignedInt(m.get(Sqe.LE_SHORT, 0)), (csattr & 1) != 0, css, vss);
        }
    }

    /** Decodes a complete controller state; a truncated or inconsistent buffer is an IllegalArgumentException. */
    public static ControllerState decode(byte[] b) {
        Header h = Header.decode(b);
        if (b.length < h.totalBytes()) {
            throw new IllegalArgumentException("controller state truncated: " + b.length + " of " + h.totalBytes() + " bytes");
        }
        MemorySegment m = MemorySegment.ofArray(b);
        long off = HEADER_BYTES;
        long stateBytes = h.nvmeStateDwords() * 4;
        if (stateBytes < 8) throw new IllegalArgumentException("NVMe controller state too short: " + stateBytes + " bytes");
        int ver = Short.toUnsignedInt(m.get(Sqe.LE_SHORT, off));
        int nsq = Short.toUnsignedInt(m.get(Sqe.LE_SHORT, off + 2));
        int ncq = Short.toUnsignedInt(m.get(Sqe.LE_SHORT, off + 4));
        if (8L + 24L * (nsq + ncq) != stateBytes) {
            throw new IllegalArgumentException("NVMECSS " + h.nvmeStateDwords() + " dwords does not match NIOSQ " + nsq + " + NIOCQ " + ncq);
        }
        off += 8;
        List<IoSqState> sqs = new ArrayList<>(nsq);
        for (int i = 0; i < nsq; i++, off += IoSqState.SIZE) sqs.add(IoSqState.decode(m, off));
        List<IoCqState> cqs = new ArrayList<>(ncq);
        for (int i = 0; i < ncq; i++, off += IoCqState.SIZE) cqs.add(IoCqState.decode(m, off));
        byte[] vs = Arrays.copyOfRange(b, (int) off, (int) (off + h.vendorSpecificDwords() * 4));
        return new ControllerState(h.version(), h.suspended(), ver, sqs, cqs, vs);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ControllerState c && c.version == version && c.suspended == suspended
                && c.stateVersion == stateVersion && c.sqs.equals(sqs) && c.cqs.equals(cqs)
                && Arrays.equals(c.vendorSpecific, vendorSpecific);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * sqs.hashCode() + cqs.hashCode()) + Arrays.hashCode(vendorSpecific);
    }
}
