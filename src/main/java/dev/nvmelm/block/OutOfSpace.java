package dev.nvmelm.block;

import dev.nvmelm.host.NvmeStatusException;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.util.NoSpaceException;

/**
 * Whether a failed block-device operation means "the destination's storage is full", from the
 * error's type: a file write that hit ENOSPC ({@link NoSpaceException}) or a controller that
 * answered Capacity Exceeded (NVMe Base 2.1, generic status 81h), anywhere in the cause chain.
 */
public final class OutOfSpace {
    private OutOfSpace() {}

    public static boolean is(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof NoSpaceException) return true;
            if (t instanceof NvmeStatusException s && s.status().is(StatusCodes.CAPACITY_EXCEEDED)) return true;
            if (t.getCause() == t) break;
        }
        return false;
    }
}
