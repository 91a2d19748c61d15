"""Bodies for collaborators, teams and transfers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CollaboratorCreate(BaseModel):
    email: str = Field(min_length=1, max_length=254)
    role: str = Field(default="member", max_length=16)


class RoleUpdate(BaseModel):
    role: str = Field(max_length=16)


class AccessPublic(BaseModel):
    email: str
    role: str
    # owner, collaborator or team
    source: str


class TransferRequest(BaseModel):
    # An account's email, or a team's name.
    to: str = Field(min_length=1, max_length=254)


class TeamCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class TeamPublic(BaseModel):
    name: str
    role: str
    members: int
    apps: int


class MemberSet(BaseModel):
    email: str = Field(min_length=1, max_length=254)
    role: str = Field(default="member", max_length=16)


class MemberPublic(BaseModel):
    email: str
    role: str
