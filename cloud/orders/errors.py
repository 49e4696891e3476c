from cloud.errors import NotFound


class OrderNotFound(NotFound):
    pass
