from icam.cli import app

app(prog_name="icam")
