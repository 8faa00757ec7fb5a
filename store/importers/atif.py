def import_file(conn, ctx):
    raise NotImplementedError
