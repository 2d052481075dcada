"""The Object Storage operations: each declared once, routed and named here."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from notebook_launcher.localservice.objectstorage import responses as r
from notebook_launcher.localservice.objectstorage.models import ObjectStore
from notebook_launcher.localservice.rest import Operation, ServiceContext, ServiceSpec


class _ObjectNameConvertor(Convertor[str]):
    """Object names are exact: every character, line feeds included, reaches the handler, which
    refuses what OCI refuses. (Starlette's `path` convertor stops at a line feed, so
    `o/victim%0a` reached the handler as `victim`.)"""

    regex = r"(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("object_name", _ObjectNameConvertor())

OBJECT = "/n/{namespaceName}/b/{bucketName}/o/{objectName:object_name}"

OPERATIONS: tuple[Operation[ObjectStore], ...] = (
    Operation("GetNamespace", "GET", "/n", r.get_namespace, also=("/n/",)),
    Operation("PutObject", "PUT", OBJECT, r.put_object),
    Operation("HeadObject", "HEAD", OBJECT, r.head_object),
    Operation("GetObject", "GET", OBJECT, r.get_object),
    Operation("ListObjects", "GET", "/n/{namespaceName}/b/{bucketName}/o", r.list_objects),
)


def _backend(context: ServiceContext) -> ObjectStore:
    return ObjectStore(context.layout.objectstorage)


SERVICE = ServiceSpec("objectstorage", OPERATIONS, _backend)
