package dev.nvmelm.cli;

import dev.nvmelm.spec.Sqe;

import java.util.LinkedHashMap;
import java.util.Map;

/** Prints an SQE for --dry-run: aligned "name : value" lines like nvme-cli admin-passthru, or JSON. */
final class SqePrinter {
    private SqePrinter() {}

    static Map<String, Object> toJson(Sqe s, long dataLen) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("opcode", s.opcode());
        m.put("flags", s.flags());
        m.put("nsid", Integer.toUnsignedLong(s.nsid()));
        m.put("cdw2", Integer.toUnsignedLong(s.cdw2()));
        m.put("cdw3", Integer.toUnsignedLong(s.cdw3()));
        m.put("cdw10", Integer.toUnsignedLong(s.cdw10()));
        m.put("cdw11", Integer.toUnsignedLong(s.cdw11()));
        m.put("cdw12", Integer.toUnsignedLong(s.cdw12()));
        m.put("cdw13", Integer.toUnsignedLong(s.cdw13()));
        m.put("cdw14", Integer.toUnsignedLong(s.cdw14()));
        m.put("cdw15", Integer.toUnsignedLong(s.cdw15()));
        m.put("data_len", dataLen);
        return m;
    }

    static String toText(Sqe s, long dataLen) {
        return String.format("""
                opcode       : %02x
                flags        : %02x
                nsid         : %08x
                cdw2         : %08x
                cdw3         : %08x
                data_len     : %08x
                cdw10        : %08x
                cdw11        : %08x
                cdw12        : %08x
                cdw13        : %08x
                cdw14        : %08x
                cdw15        : %08x
                """, s.opcode(), s.flags(), s.nsid(), s.cdw2(), s.cdw3(), dataLen, s.cdw10(), s.cdw11(),
                s.cdw12(), s.cdw13(), s.cdw14(), s.cdw15());
    }
}
