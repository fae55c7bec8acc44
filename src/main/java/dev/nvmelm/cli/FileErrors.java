package dev.nvmelm.cli;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;

/** A file problem as one line naming its cause (not found, is a directory, permission denied), from the exception's type. */
final class FileErrors {
    private FileErrors() {}

    static String describe(IOException e) {
        return switch (e) {
            case NoSuchFileException n -> n.getFile() + ": no such file or directory";
            case AccessDeniedException a -> a.getFile() + ": permission denied";
            case FileAlreadyExistsException x -> x.getFile() + ": already exists";
            case NotDirectoryException d -> d.getFile() + ": not a directory";
            case DirectoryNotEmptyException d -> d.getFile() + ": directory not empty";
            case FileSystemException f -> f.getFile() + (f.getReason() != null ? ": " + f.getReason() : "")
                    + (f.getOtherFile() != null ? " (" + f.getOtherFile() + ")" : "");
            default -> String.valueOf(e.getMessage());
        };
    }

    /** Refuses {@code p} unless it is a readable regular file, saying which it is not. */
    static void requireReadableFile(String what, Path p) {
        if (Files.isDirectory(p)) throw new CliException(what + " " + p + " is a directory, not an image file");
        if (!Files.exists(p)) throw new CliException(what + " " + p + " does not exist");
        if (!Files.isRegularFile(p)) throw new CliException(what + " " + p + " is not a regular file");
        if (!Files.isReadable(p)) throw new CliException(what + " " + p + ": permission denied");
    }

    /** Refuses a destination image path that is a directory or sits in a directory that does not exist. */
    static void requireWritablePlace(String what, Path p) {
        if (Files.isDirectory(p)) throw new CliException(what + " " + p + " is a directory, not an image file");
        Path parent = p.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) throw new CliException(what + " " + p + ": directory " + parent + " does not exist");
        if (Files.exists(p) && !Files.isWritable(p)) throw new CliException(what + " " + p + ": permission denied");
        if (!Files.exists(p) && parent != null && !Files.isWritable(parent)) throw new CliException(what + " " + p + ": permission denied in " + parent);
    }
}
