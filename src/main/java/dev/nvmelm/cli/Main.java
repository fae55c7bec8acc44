package dev.nvmelm.cli;

/** Entry point placeholder until the CLI lands (replaced by the picocli command tree). */
public final class Main {
    public static void main(String[] args) {
        System.out.println("nvme-lm " + Runtime.version());
    }
}
