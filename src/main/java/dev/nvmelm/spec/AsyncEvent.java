package dev.nvmelm.spec;

/**
 * An Asynchronous Event Request completion (NVMe Base 2.1, section 5.1.2; Figures 154-155 for the
 * CDQ events; the Error Status values 00h/01h for invalid doorbell writes): DW0 AET 2:0,
 * AEI 15:8, LID 23:16; DW1 event-specific (the CDQID for CDQ events).
 */
public record AsyncEvent(int type, int info, int logPage, int dw1) {
    public static final int AET_ERROR = 0, AET_SMART = 1, AET_NOTICE = 2, AET_ONE_SHOT = 4, AET_IO_COMMAND_SET = 6, AET_VENDOR = 7;
    public static final int AEI_CDQ_TAIL_POINTER = 0x00, AEI_CDQ_FULL = 0x01;
    /** Error Status events (AET 0): a write to a doorbell of no queue, or a value out of range. */
    public static final int AEI_INVALID_DOORBELL_REGISTER = 0x00, AEI_INVALID_DOORBELL_WRITE_VALUE = 0x01;
    /** The Error Information log page, named by Error Status events. */
    public static final int LID_ERROR_INFORMATION = 0x01;

    public AsyncEvent {
        Fields.unsigned("AET", type, 3);
        Fields.unsigned("AEI", info, 8);
        Fields.unsigned("LID", logPage, 8);
    }

    public static AsyncEvent cdqTailPointer(int cdqid) {
        return new AsyncEvent(AET_ONE_SHOT, AEI_CDQ_TAIL_POINTER, 0, cdqid);
    }

    /** Error Status, Write to Invalid Doorbell Register (as QEMU posts it, with the Error Information log page). */
    public static AsyncEvent invalidDoorbellRegister() {
        return new AsyncEvent(AET_ERROR, AEI_INVALID_DOORBELL_REGISTER, LID_ERROR_INFORMATION, 0);
    }

    /** Error Status, Invalid Doorbell Write Value. */
    public static AsyncEvent invalidDoorbellWriteValue() {
        return new AsyncEvent(AET_ERROR, AEI_INVALID_DOORBELL_WRITE_VALUE, LID_ERROR_INFORMATION, 0);
    }

    public static AsyncEvent cdqFull(int cdqid) {
        return new AsyncEvent(AET_ONE_SHOT, AEI_CDQ_FULL, 0, cdqid);
    }

    public int dw0() {
        return type | info << 8 | logPage << 16;
    }

    public static AsyncEvent decode(int dw0, int dw1) {
        return new AsyncEvent(dw0 & 7, (dw0 >>> 8) & 0xff, (dw0 >>> 16) & 0xff, dw1);
    }

    public boolean isCdqEvent() {
        return type == AET_ONE_SHOT && (info == AEI_CDQ_TAIL_POINTER || info == AEI_CDQ_FULL);
    }

    public int cdqid() {
        return dw1 & 0xffff;
    }
}
