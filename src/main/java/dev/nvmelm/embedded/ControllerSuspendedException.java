package dev.nvmelm.embedded;

import dev.nvmelm.host.NvmeException;

/** A client asked for a migratable controller that is suspended, so no driver can be enabled on it. */
public final class ControllerSuspendedException extends NvmeException {
    private final int cntlid;

    ControllerSuspendedException(int cntlid, String message) {
        super(message);
        this.cntlid = cntlid;
    }

    public int cntlid() {
        return cntlid;
    }
}
