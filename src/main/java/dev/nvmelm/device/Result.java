package dev.nvmelm.device;

import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCode;
import dev.nvmelm.spec.StatusCodes;

/**
 * What executing a command produced: the status and CQE DW0/DW1, or {@link #DEFERRED} when the
 * command completes later (on another controller's thread). The status helpers every handler
 * uses live here, once.
 */
record Result(Status status, int dw0, int dw1) {
    static final Result DEFERRED = new Result(Status.SUCCESS, 0, 0);

    static Result ok() { return new Result(Status.SUCCESS, 0, 0); }

    static Result ok(int dw0) { return new Result(Status.SUCCESS, dw0, 0); }

    static Result of(Status s) { return new Result(s, 0, 0); }

    /** A status with DNR; its type (generic, command specific) comes with the code. */
    static Result error(StatusCode code) { return of(Status.dnr(code)); }

    static Result invalidField() { return error(StatusCodes.INVALID_FIELD); }
}
