package dev.nvmelm.host;

import dev.nvmelm.spec.Status;

/** A command completed with a non-success NVMe status. */
public final class NvmeStatusException extends NvmeException {
    private final Status status;

    public NvmeStatusException(String what, Status status) {
        super(what + ": " + status.toNvmeCliString());
        this.status = status;
    }

    public Status status() {
        return status;
    }
}
