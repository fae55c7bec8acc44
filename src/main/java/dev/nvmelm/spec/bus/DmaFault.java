package dev.nvmelm.spec.bus;

/** A DMA to an address outside mapped host memory; the controller answers Data Transfer Error. */
public final class DmaFault extends RuntimeException {
    public DmaFault(String message) {
        super(message);
    }
}
