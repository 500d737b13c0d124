"""Development tooling (test and rehearsal servers); never imported by Definitions."""
