package dev.nvmelm.host;

/** An Asynchronous Event Request completion: type (AET), info (AEI), log page, and DW1. */
public record AsyncEventInfo(int type, int info, int logPage, int dw1) {
    public static AsyncEventInfo fromCompletion(int dw0, int dw1) {
        return new AsyncEventInfo(dw0 & 7, (dw0 >>> 8) & 0xff, (dw0 >>> 16) & 0xff, dw1);
    }
}
