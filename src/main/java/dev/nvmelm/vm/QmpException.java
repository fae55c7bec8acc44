package dev.nvmelm.vm;

import java.io.IOException;

/** QEMU answered a QMP command with an error: its class (e.g. GenericError) and description. */
public final class QmpException extends IOException {
    private final String command, errorClass, desc;

    public QmpException(String command, String errorClass, String desc) {
        super(command + ": " + desc + " (" + errorClass + ")");
        this.command = command;
        this.errorClass = errorClass;
        this.desc = desc;
    }

    public String command() {
        return command;
    }

    public String errorClass() {
        return errorClass;
    }

    public String desc() {
        return desc;
    }
}
