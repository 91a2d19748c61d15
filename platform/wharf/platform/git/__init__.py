"""Git over smart HTTP: one bare repository per app, and the hook that turns a push into a build."""
