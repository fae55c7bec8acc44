package dev.nvmelm.spec;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Supported Controller State Formats (Identify CNS 20h; NVMe Base 2.1, section 5.1.13.2.21): NV 0, NUUID 1, then
 * NV le16 versions, then NUUID 16-byte UUIDs. Indices used by CSVI/CSUUIDI are 1-based.
 */
public record SupportedControllerStateFormats(List<Integer> versions, List<UUID> uuids) {
    public int sizeBytes() {
        return 2 + 2 * versions.size() + 16 * uuids.size();
    }

    public byte[] encode() {
        byte[] b = new byte[sizeBytes()];
        MemorySegment m = MemorySegment.ofArray(b);
        b[0] = (byte) Fields.u("NV", versions.size(), 8);
        b[1] = (byte) Fields.u("NUUID", uuids.size(), 8);
        for (int i = 0; i < versions.size(); i++) m.set(Sqe.LE_SHORT, 2 + 2L * i, (short) (int) versions.get(i));
        long off = 2 + 2L * versions.size();
        for (UUID u : uuids) {
            m.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), off, u.getMostSignificantBits());
            m.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), off + 8, u.getLeastSignificantBits());
            off += 16;
        }
        return b;
    }

    /** Decodes; NV and NUUID that claim more entries than the buffer (an Identify page: 4096 bytes) holds are an IllegalArgumentException. */
    public static SupportedControllerStateFormats decode(MemorySegment m) {
        int nv = IdentifyController.u8(m, 0), nu = IdentifyController.u8(m, 1);
        long needed = 2 + 2L * nv + 16L * nu;
        if (needed > m.byteSize()) {
            throw new IllegalArgumentException("Supported Controller State Formats: NV " + nv + " and NUUID " + nu + " need "
                    + needed + " bytes, the data holds " + m.byteSize());
        }
        List<Integer> v = new ArrayList<>();
        for (int i = 0; i < nv; i++) v.add(IdentifyController.u16(m, 2 + 2L * i));
        List<UUID> u = new ArrayList<>();
        long off = 2 + 2L * nv;
        var be = java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
        for (int j = 0; j < nu; j++, off += 16) u.add(new UUID(m.get(be, off), m.get(be, off + 8)));
        return new SupportedControllerStateFormats(v, u);
    }

    /** The version a 1-based CSVI selects; 0 or out of range gives -1. */
    public int versionForCsvi(int csvi) {
        return csvi >= 1 && csvi <= versions.size() ? versions.get(csvi - 1) : -1;
    }
}
