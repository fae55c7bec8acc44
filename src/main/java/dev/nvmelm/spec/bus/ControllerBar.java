package dev.nvmelm.spec.bus;

/**
 * A controller as the host driver reaches it over PCIe: 32/64-bit register accesses to BAR0
 * (NVMe Base 2.1, section 3.1.4; offsets in {@link Registers}) and an interrupt line back to the host.
 * Doorbell writes are register writes. Everything else the controller does is DMA through
 * the {@link DmaMemory} it was attached with.
 */
public interface ControllerBar {
    int read32(int offset);

    long read64(int offset);

    void write32(int offset, int value);

    void write64(int offset, long value);

    /** Connects the host's interrupt handler; vectors are those given when creating CQs. */
    void connectInterrupts(InterruptLine line);
}
