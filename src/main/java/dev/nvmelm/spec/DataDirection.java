package dev.nvmelm.spec;

/**
 * Data transfer direction of a command, from bits 1:0 of its opcode (NVMe Base 2.1, section 5, admin
 * opcodes; NVM Command Set 1.1, section 3, I/O opcodes): 00b none, 01b host to controller, 10b controller to host, 11b bidirectional.
 */
public enum DataDirection {
    NONE, HOST_TO_CONTROLLER, CONTROLLER_TO_HOST, BIDIRECTIONAL;

    /**
     * The direction that an opcode byte encodes, whether admin or I/O: the rule is the same for both, so
     * a transport that moves a raw SQE can decide it without knowing which queue the SQE is for.
     */
    public static DataDirection ofOpcodeByte(int opcode) {
        return values()[opcode & 3];
    }
}
