package dev.nvmelm.cli;

import picocli.CommandLine.Command;

/** {@code nvme-lm lm <subcommand> <device> [OPTIONS]}: nvme-cli's Live Migration plugin. */
@Command(name = "lm", mixinStandardHelpOptions = true, description = "Live Migration NVMe extensions",
        subcommands = {LmCreateCdq.class, LmDeleteCdq.class, LmTrackSend.class, LmMigrationSend.class,
                LmMigrationRecv.class, LmSetCdq.class, LmGetCdq.class, LmCdqRead.class, LmCdqWatch.class})
final class LmCommand {
}
