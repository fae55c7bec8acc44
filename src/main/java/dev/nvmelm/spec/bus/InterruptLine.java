package dev.nvmelm.spec.bus;

/** An MSI-X style interrupt from the controller to the host: one vector per completion queue. */
@FunctionalInterface
public interface InterruptLine {
    void raise(int vector);
}
