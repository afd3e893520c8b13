"""FAB's data interface, with database integrity errors turned into messages
a person can act on (instead of raw SQL) and domain errors passed through."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy.exc import IntegrityError

from app.domain.errors import Conflict, DomainError
from app.i18n import current_language


class EntityInterface(SQLAInterface):
    def _write(self, method, item, commit):
        try:
            return method(item, commit=commit)
        except IntegrityError as exc:
            self.session.rollback()
            raise self._explain(item, exc) from None
        except DomainError as exc:
            self.session.rollback()
            # the screens flash str(exc): make it the user's language
            exc.args = (exc.in_language(current_language()),)
            raise
        except Exception as exc:  # FAB wraps errors of edit/delete
            cause = exc.__cause__
            self.session.rollback()
            if isinstance(cause, IntegrityError):
                raise self._explain(item, cause) from None
            if isinstance(cause, DomainError):
                raise cause from None
            raise

    def add(self, item, commit=True):
        return self._write(super().add, item, commit)

    def edit(self, item, commit=True):
        return self._write(super().edit, item, commit)

    def delete(self, item, commit=True):
        return self._write(super().delete, item, commit)

    def _explain(self, item, exc: IntegrityError) -> Conflict:
        entity = getattr(type(item), "__entity__", None)
        text = str(exc.orig).lower()
        if entity is not None and ("unique" in text or "duplicate" in text):
            keys = [f.name for f in entity.fields.values() if f.unique]
            keys += [" + ".join(g) for g in entity.unique_together]
            values = ", ".join(f"{k}={getattr(item, k.split(' + ')[0], '')!s}" for k in keys)
            return Conflict(f"{entity.label['en']}: a record with the same "
                            f"{' or '.join(keys) or 'key'} already exists ({values}); "
                            "change the value or edit the existing record",
                            zh=f"{entity.label['zh']}：已存在相同 {' 或 '.join(keys) or '编码'} 的记录"
                               f"（{values}）；请修改该值或编辑已有记录")
        if "foreign key" in text:
            return Conflict("this record is still referenced by other records; "
                            "deactivate it instead of deleting it",
                            zh="该记录仍被其他记录引用，请停用而不是删除")
        first = str(exc.orig).splitlines()[0]
        return Conflict(f"the database refused the change: {first}", zh=f"数据库拒绝了此修改：{first}")
