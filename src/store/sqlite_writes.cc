// The row-level write operations of `SqliteStore` (its `WriteTarget`), run inside the caller's
// BEGIN IMMEDIATE transaction with mu_ held. What each `Write` means is decided once, for every
// store, in write_path.cc.
#include <sqlite3.h>

#include "store/sqlite_store_impl.h"

namespace skiff::store {

Status SqliteStore::WriteObjectRow(const char* sql, const ObjectKey& key, const std::string& uid,
                                   int64_t rv, int64_t generation, const std::string& data) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql));
  st.Bind(1, key.kind).Bind(2, key.ns).Bind(3, key.name).Bind(4, uid).Bind(5, rv);
  st.Bind(6, generation).Bind(7, data);
  Status s = st.Run();
  if (!s.ok() && st.last_error() == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return AlreadyExists(KeyString(key) + " already exists");
  }
  if (!s.ok() && (st.last_error() & 0xff) == SQLITE_CONSTRAINT) {
    return Internal("uid " + uid +
                    " is already taken (is the random generator shared?): " + s.message());
  }
  return s;
}

// `objects.phase` is computed from `data` by SQLite's json_extract, so `obj` is not needed.
Status SqliteStore::InsertObject(const ObjectKey& key, const std::string& uid, int64_t rv,
                                 int64_t generation, const std::string& data, const Json& /*obj*/) {
  return WriteObjectRow(sql::kInsertObject, key, uid, rv, generation, data);
}

Status SqliteStore::UpdateObject(const ObjectKey& key, const std::string& uid, int64_t rv,
                                 int64_t generation, const std::string& data, const Json& /*obj*/) {
  return WriteObjectRow(sql::kUpdateObject, key, uid, rv, generation, data);
}

Status SqliteStore::InsertEvent(EventType type, const ObjectKey& key, int64_t rv,
                                const std::string& data) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kInsertEvent));
  st.Bind(1, rv).Bind(2, EventTypeName(type)).Bind(3, key.kind).Bind(4, key.ns).Bind(5, key.name);
  st.Bind(6, data);
  return st.Run();
}

Status SqliteStore::LinkOwners(const std::string& uid, const Json* refs, bool replace) {
  if (replace) {
    SKIFF_ASSIGN_OR_RETURN(SqliteStmt del, db_->Prepare(sql::kDeleteOwnersOfChild));
    del.Bind(1, uid);
    SKIFF_RETURN_IF_ERROR(del.Run());
  }
  if (refs == nullptr) return OkStatus();
  for (const Json& ref : *refs) {
    SKIFF_ASSIGN_OR_RETURN(SqliteStmt ins, db_->Prepare(sql::kInsertOwner));
    ins.Bind(1, ref["uid"].get_ref<const std::string&>()).Bind(2, uid);
    SKIFF_RETURN_IF_ERROR(ins.Run());
  }
  return OkStatus();
}

Result<std::vector<StoredRow>> SqliteStore::Dependents(const std::string& uid) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt deps, db_->Prepare(sql::kSelectDependents));
  deps.Bind(1, uid);
  std::vector<StoredRow> out;
  for (;;) {
    SKIFF_ASSIGN_OR_RETURN(bool row, deps.Step());
    if (!row) break;
    out.push_back(
        StoredRow{ObjectKey{std::string(deps.ColumnText(0)), std::string(deps.ColumnText(1)),
                            std::string(deps.ColumnText(2))},
                  std::string(deps.ColumnText(3)), std::string(deps.ColumnText(4))});
  }
  return out;
}

Status SqliteStore::DeleteObject(const std::string& uid) {
  for (const char* statement : {sql::kDeleteObject, sql::kDeleteOwnersOfChild,
                                sql::kDeleteLinksOfOwner, sql::kDeleteOwnerRecords}) {
    SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(statement));
    st.Bind(1, uid);
    SKIFF_RETURN_IF_ERROR(st.Run());
  }
  return OkStatus();
}

Status SqliteStore::PutRecord(const std::string& collection, const std::string& owner,
                              const std::string& key, const std::string& data) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kPutRecord));
  st.Bind(1, collection).Bind(2, owner).Bind(3, key).Bind(4, data);
  return st.Run();
}

Status SqliteStore::DeleteRecords(const std::string& collection, const std::string& owner) {
  SKIFF_ASSIGN_OR_RETURN(SqliteStmt st, db_->Prepare(sql::kDeleteRecords));
  st.Bind(1, collection).Bind(2, owner);
  return st.Run();
}

}  // namespace skiff::store
