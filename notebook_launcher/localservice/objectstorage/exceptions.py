"""The errors Object Storage answers with (codes as OCI sends them; see the notes on each)."""

from __future__ import annotations

from notebook_launcher.localservice.errors import ServiceError


class BucketNotFoundError(ServiceError):
    """The bucket does not exist in the namespace."""

    status = 404
    code = "BucketNotFound"


class ObjectNotFoundError(ServiceError):
    """The object does not exist in the bucket."""

    status = 404
    code = "ObjectNotFound"


class UploadNotFoundError(ServiceError):
    """The multipart upload does not exist (committed, aborted or never created)."""

    status = 404
    code = "NoSuchUpload"


class BucketAlreadyExistsError(ServiceError):
    """CreateBucket of a name the namespace already has."""

    status = 409
    code = "BucketAlreadyExists"


class BucketNotEmptyError(ServiceError):
    """DeleteBucket of a bucket that still holds objects."""

    status = 409
    code = "BucketNotEmpty"


class UnmatchedContentMD5Error(ServiceError):
    """The body's MD5 is not the one the Content-MD5 header announced."""

    status = 400
    code = "UnmatchedContentMD5"


class NamespaceNotFoundError(ServiceError):
    """A namespace other than the tenancy's one (OCI answers this code for a wrong namespace,
    listed in its API errors page; oracle/oci-cli#554)."""

    status = 404
    code = "NamespaceNotFound"

    def __init__(self) -> None:
        super().__init__(
            "You do not have authorization to perform this request, or the requested resource"
            " could not be found."
        )


class CompartmentNotFoundError(ServiceError):
    """ListBuckets in a compartment the tenancy does not have (Object Storage's own code for
    an unknown compartment; oracle/oci-java-sdk#270)."""

    status = 404
    code = "CompartmentIdNotFound"


class WorkRequestNotFoundError(ServiceError):
    """GetWorkRequest of an id Object Storage never gave out."""

    status = 404
    code = "NotAuthorizedOrNotFound"
