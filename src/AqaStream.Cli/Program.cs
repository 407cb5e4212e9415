using AqaStream.Cli;

return AqaApp.Run(args);
