package dev.nvmelm.nbd;

/** NBD protocol constants (the NBD protocol of the NetworkBlockDevice project; docs/network.md). Big-endian. */
public final class Nbd {
    private Nbd() {}

    public static final long NBDMAGIC = 0x4e42444d41474943L, IHAVEOPT = 0x49484156454F5054L, REPLY_MAGIC = 0x3e889045565a9L;
    public static final int REQUEST_MAGIC = 0x25609513, SIMPLE_REPLY_MAGIC = 0x67446698, STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    // handshake flags (server) and client flags
    public static final int FLAG_FIXED_NEWSTYLE = 1, FLAG_NO_ZEROES = 2;
    public static final int FLAG_C_FIXED_NEWSTYLE = 1, FLAG_C_NO_ZEROES = 2;

    // options
    public static final int OPT_EXPORT_NAME = 1, OPT_ABORT = 2, OPT_LIST = 3, OPT_STARTTLS = 5, OPT_INFO = 6, OPT_GO = 7,
            OPT_STRUCTURED_REPLY = 8, OPT_LIST_META_CONTEXT = 9, OPT_SET_META_CONTEXT = 10, OPT_EXTENDED_HEADERS = 11;
    /** Extended headers (proto.md "Extended headers"): 32-byte requests and replies with 64-bit lengths. */
    public static final int EXTENDED_REQUEST_MAGIC = 0x21e41c71, EXTENDED_REPLY_MAGIC = 0x6e8a278c;

    // option replies
    public static final int REP_ACK = 1, REP_SERVER = 2, REP_INFO = 3, REP_META_CONTEXT = 4;
    public static final int REP_ERR_UNSUP = 0x80000001, REP_ERR_POLICY = 0x80000002, REP_ERR_INVALID = 0x80000003,
            REP_ERR_PLATFORM = 0x80000004, REP_ERR_TLS_REQD = 0x80000005, REP_ERR_UNKNOWN = 0x80000006,
            REP_ERR_SHUTDOWN = 0x80000007, REP_ERR_BLOCK_SIZE_REQD = 0x80000008, REP_ERR_TOO_BIG = 0x80000009,
            REP_ERR_EXT_HEADER_REQD = 0x8000000a;

    // info types
    public static final int INFO_EXPORT = 0, INFO_NAME = 1, INFO_DESCRIPTION = 2, INFO_BLOCK_SIZE = 3;

    // transmission flags
    public static final int TF_HAS_FLAGS = 1, TF_READ_ONLY = 1 << 1, TF_SEND_FLUSH = 1 << 2, TF_SEND_FUA = 1 << 3,
            TF_SEND_TRIM = 1 << 5, TF_SEND_WRITE_ZEROES = 1 << 6, TF_SEND_DF = 1 << 7, TF_CAN_MULTI_CONN = 1 << 8,
            TF_SEND_CACHE = 1 << 10, TF_SEND_FAST_ZERO = 1 << 11;

    // commands and command flags
    public static final int CMD_READ = 0, CMD_WRITE = 1, CMD_DISC = 2, CMD_FLUSH = 3, CMD_TRIM = 4, CMD_CACHE = 5,
            CMD_WRITE_ZEROES = 6, CMD_BLOCK_STATUS = 7;
    public static final int CMD_FLAG_FUA = 1, CMD_FLAG_NO_HOLE = 2, CMD_FLAG_DF = 4, CMD_FLAG_REQ_ONE = 8, CMD_FLAG_FAST_ZERO = 16;

    // structured reply chunks
    public static final int REPLY_FLAG_DONE = 1;
    public static final int REPLY_TYPE_NONE = 0, REPLY_TYPE_OFFSET_DATA = 1, REPLY_TYPE_OFFSET_HOLE = 2,
            REPLY_TYPE_BLOCK_STATUS = 5, REPLY_TYPE_BLOCK_STATUS_EXT = 6, REPLY_TYPE_ERROR = 0x8001, REPLY_TYPE_ERROR_OFFSET = 0x8002;

    // errors
    public static final int EPERM = 1, EIO = 5, ENOMEM = 12, EINVAL = 22, ENOSPC = 28, EOVERFLOW = 75, ENOTSUP = 95, ESHUTDOWN = 108;

    // base:allocation
    public static final int STATE_HOLE = 1, STATE_ZERO = 2;
    public static final String BASE_ALLOCATION = "base:allocation";
    /** nvme-lm's dirty map, in the shape of qemu:dirty-bitmap:NAME (bit 0 = dirty). */
    public static final String NVME_LM_DIRTY = "nvme-lm:dirty";
    public static final int STATE_DIRTY = 1;
}
